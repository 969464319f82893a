#!/bin/sh
# grpc-bench.sh: our gRPC server against the floor reference, same run.
#
# For each server (bench/h2floor.c: a bare nghttp2 server sharing no code
# with ours, its own epoll loop, one write per batch, a fixed pre-encoded
# answer; and grpc-testserver: our full gRPC layer answering Allocate), in
# alternating rounds:
#   - latency p50/p99 at concurrency 1 (grpc-go client, one connection)
#   - throughput at concurrency 64 (grpc-go client) and the server's CPU
#     time per call, from /proc/PID/stat over that phase
#   - throughput under h2load -c4 -m32
# Then one counting pass per server, apart so that its cost stays out of
# the figures above: the server's write system calls (sendto, sendmsg,
# write, writev) per call at concurrency 64 and under h2load, with perf's
# syscall tracepoints, or strace -c where perf cannot attach.
# Prints a markdown table with ours as a ratio of the floor (medians of
# ROUNDS rounds). Needs a build: meson setup build && ninja -C build.
# Usage: bench/grpc-bench.sh [BUILD_DIR]
#   env: ROUNDS=3 SECONDS_PER=5 COUNT_SECONDS=3; OURS=path of another
#   grpc-testserver to measure (say, one built from an older commit);
#   COUNTER=perf or strace (default: perf if it can attach)
set -eu
BUILD=${1:-build}
ROUNDS=${ROUNDS:-3}
SECS=${SECONDS_PER:-5}
COUNT_SECS=${COUNT_SECONDS:-3}
PEER=$BUILD/tests/interop/gdp-go-peer
OURS=${OURS:-$BUILD/tests/interop/grpc-testserver}
FLOOR=$BUILD/bench/h2floor
for b in "$PEER" "$OURS" "$FLOOR"; do
	[ -x "$b" ] || { echo "grpc-bench: $b missing; build first" >&2; exit 1; }
done
command -v h2load >/dev/null || { echo "grpc-bench: h2load missing (scripts/install-deps.sh)" >&2; exit 1; }

dir=$(mktemp -d)
pid=""
cpid=""
trap '[ -n "$cpid" ] && kill "$cpid" 2>/dev/null; [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$dir"' EXIT INT TERM
TCK=$(getconf CLK_TCK)

# The Allocate request the Go peer sends, as a gRPC message, for h2load.
id=GPU-4d2a9a8e-1c7e-4b1e-9f0a-3c5d6e7f8a9b
printf '\000\000\000\000\054\012\052\012\050%s' "$id" >"$dir/alloc.grpc"

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
json() { sed -n "s/.*\"$2\":\([0-9.]*\).*/\1/p" "$1"; }

start() {
	"$1" --socket "$dir/s.sock" >"$dir/ready" 2>"$dir/server.err" &
	pid=$!
	for _ in $(seq 100); do
		grep -q ready "$dir/ready" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "grpc-bench: $1 did not start" >&2
	exit 1
}

stop() {
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	pid=""
}

# check_status: one call with curl must end with grpc-status 0, since
# h2load counts gRPC errors (sent as HTTP 200) as successes.
check_status() {
	curl -s --http2-prior-knowledge --unix-socket "$dir/s.sock" \
	    -H 'content-type: application/grpc' -H 'te: trailers' \
	    --data-binary "@$dir/alloc.grpc" -o /dev/null -D "$dir/curl.out" \
	    http://localhost/v1beta1.DevicePlugin/Allocate || true
	if ! grep -qi '^grpc-status: 0' "$dir/curl.out"; then
		echo "grpc-bench: the h2load request does not succeed:" >&2
		cat "$dir/curl.out" >&2
		exit 1
	fi
}

measure() { # name binary round
	start "$2"
	check_status
	"$PEER" bench --socket "$dir/s.sock" --concurrency 1 \
	    --duration "$SECS" >"$dir/c1.json"
	t0=$(cpu_ticks "$pid")
	"$PEER" bench --socket "$dir/s.sock" --concurrency 64 \
	    --duration "$SECS" >"$dir/c64.json"
	t1=$(cpu_ticks "$pid")
	h2load -n 300000 -c 4 -m 32 -B "unix:$dir/s.sock" \
	    -d "$dir/alloc.grpc" -H 'content-type: application/grpc' \
	    -H 'te: trailers' http://localhost/v1beta1.DevicePlugin/Allocate \
	    >"$dir/h2load.out" 2>&1
	t2=$(cpu_ticks "$pid")
	stop
	errs=$(( $(json "$dir/c1.json" errors) + $(json "$dir/c64.json" errors) ))
	[ "$errs" -eq 0 ] || { echo "grpc-bench: $1: $errs call errors" >&2; exit 1; }
	calls=$(json "$dir/c64.json" calls)
	# The warm-up is not counted in calls, so CPU per call is a slight
	# overestimate, the same for both servers.
	cpu_us=$(awk -v t=$((t1 - t0)) -v k="$TCK" -v n="$calls" \
	    'BEGIN { printf "%.2f", t / k * 1e6 / n }')
	h2cpu=$(awk -v t=$((t2 - t1)) -v k="$TCK" \
	    'BEGIN { printf "%.2f", t / k * 1e6 / 300000 }')
	h2rps=$(sed -n 's/^finished in .*, \([0-9.]*\) req\/s.*/\1/p' "$dir/h2load.out")
	succ=$(sed -n 's/^requests: .* \([0-9]*\) succeeded.*/\1/p' "$dir/h2load.out")
	echo "$1 $3 $(json "$dir/c1.json" p50_us) $(json "$dir/c1.json" p99_us)" \
	    "$(json "$dir/c64.json" calls_per_s) $cpu_us ${h2rps:-0} $h2cpu" \
	    "${succ:-0}" \
	    >>"$dir/rows"
}

# ---- counting pass: write system calls per call ----

WRITES="sendto sendmsg write writev"
COUNTER=${COUNTER:-}
if [ -z "$COUNTER" ] &&
    perf stat -e syscalls:sys_enter_sendto -- true >/dev/null 2>&1; then
	COUNTER=perf
elif [ -z "$COUNTER" ] && command -v strace >/dev/null; then
	COUNTER=strace
elif [ -z "$COUNTER" ]; then
	echo "grpc-bench: neither perf nor strace can count system calls" >&2
	exit 1
fi

count_start() { # pid
	if [ "$COUNTER" = perf ]; then
		events=$(for s in $WRITES; do printf 'syscalls:sys_enter_%s,' "$s"; done)
		perf stat -x, -e "${events%,}" -p "$1" -o "$dir/count" &
	else
		strace -c -f -qq -e trace="$(echo $WRITES | tr ' ' ,)" \
		    -p "$1" -o "$dir/count" &
	fi
	cpid=$!
	sleep 0.3 # attached
}

count_stop() {
	kill -INT "$cpid"
	wait "$cpid" 2>/dev/null || true
	cpid=""
}

# counts: what the last count counted, in the order of $WRITES.
counts() {
	for s in $WRITES; do
		if [ "$COUNTER" = perf ]; then
			awk -F, -v e="syscalls:sys_enter_$s" \
			    '$3 == e { n = $1 + 0 } END { print n + 0 }' "$dir/count"
		else
			# "% time, seconds, usecs/call, calls, [errors,] syscall"
			awk -v e="$s" '$NF == e { n = $4 } END { print n + 0 }' \
			    "$dir/count"
		fi
	done | tr '\n' ' '
}

count() { # name binary
	start "$2"
	"$PEER" bench --socket "$dir/s.sock" --concurrency 64 \
	    --duration "$COUNT_SECS" >"$dir/n64.json" &
	peer=$!
	# The peer counts the calls of its measured window, after a 0.5 s
	# warm-up: counting starts about then (0.2 s, then 0.3 s to attach).
	sleep 0.2
	count_start "$pid"
	wait "$peer"
	count_stop
	c64=$(counts)
	count_start "$pid"
	h2load -n 100000 -c 4 -m 32 -B "unix:$dir/s.sock" \
	    -d "$dir/alloc.grpc" -H 'content-type: application/grpc' \
	    -H 'te: trailers' http://localhost/v1beta1.DevicePlugin/Allocate \
	    >"$dir/h2count.out" 2>&1
	count_stop
	h2=$(counts)
	stop
	echo "$1 $(json "$dir/n64.json" calls) $c64 100000 $h2" >>"$dir/counts"
}

for r in $(seq "$ROUNDS"); do
	measure floor "$FLOOR" "$r"
	measure ours "$OURS" "$r"
done
count floor "$FLOOR"
count ours "$OURS"

echo "Raw rows (server round p50_us p99_us c64_calls_per_s" \
    "cpu_us_per_call h2load_rps h2load_cpu_us_per_call h2load_ok):" >&2
cat "$dir/rows" >&2
echo "Write system calls, counted with $COUNTER (server c64_calls" \
    "$WRITES h2load_calls $WRITES):" >&2
cat "$dir/counts" >&2

# Medians per server and column, then the table.
awk -v rounds="$ROUNDS" '
function median(arr, n,   i, j, t) {
	for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++)
		if (arr[j] < arr[i]) { t = arr[i]; arr[i] = arr[j]; arr[j] = t }
	return n % 2 ? arr[(n + 1) / 2] : (arr[n / 2] + arr[n / 2 + 1]) / 2
}
$9 != 300000 { print "grpc-bench: h2load calls failed: " $0 > "/dev/stderr"; exit 1 }
{ s = $1; n[s]++; for (c = 3; c <= 8; c++) v[s, c, n[s]] = $c }
END {
	split("p50 µs (c=1)|p99 µs (c=1)|calls/s (c=64, grpc-go)|server CPU µs/call (c=64)|calls/s (h2load -c4 -m32)|server CPU µs/call (h2load)", names, "|")
	for (c = 3; c <= 8; c++) {
		for (s in n) { for (i = 1; i <= n[s]; i++) tmp[i] = v[s, c, i]; m[s, c] = median(tmp, n[s]) }
	}
	print "| measure | floor | ours | ours / floor |"
	print "|---|---|---|---|"
	for (c = 3; c <= 8; c++)
		printf "| %s | %.1f | %.1f | %.2f |\n", names[c - 2], m["floor", c], m["ours", c], m["ours", c] / m["floor", c]
}' "$dir/rows"
# Write system calls per call, from the counting pass (same table).
awk -v names="$WRITES" '
{ s = $1; c64[s] = 0; h2[s] = 0
  for (i = 3; i <= 6; i++) c64[s] += $i
  for (i = 8; i <= 11; i++) h2[s] += $i
  c64[s] /= $2; h2[s] /= $7
  split(names, nm, " ")
  d = ""; for (i = 1; i <= 4; i++) d = d sprintf("%s%s %.3f", i > 1 ? ", " : "", nm[i], $(i + 2) / $2)
  detail[s] = d }
END {
	printf "| write syscalls/call (c=64) | %.3f | %.3f | %.2f |\n", c64["floor"], c64["ours"], c64["floor"] ? c64["ours"] / c64["floor"] : 0
	printf "| write syscalls/call (h2load) | %.3f | %.3f | %.2f |\n", h2["floor"], h2["ours"], h2["floor"] ? h2["ours"] / h2["floor"] : 0
	printf "\nWrite system calls per call at c=64: floor %s; ours %s.\n", detail["floor"], detail["ours"]
}' "$dir/counts"
