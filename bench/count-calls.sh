#!/bin/sh
# count-calls.sh: reproducible per-call counts for a gRPC server under h2load.
#
# Timings move with the machine; these counts do not, so each step of the
# "less work per call" effort (docs/benchmarks.md, issue 8 item 3) is
# measured with them:
#   ir      instructions (callgrind Ir) per Allocate, server side
#   allocs  heap allocations (malloc, calloc, realloc) per Allocate, counted
#           by bench/mcount.c, preloaded (built here into a temp dir)
# SERVER is grpc-testserver (build/tests/interop/grpc-testserver) or the
# floor (build/bench/h2floor); both take --socket and print "ready". A first
# h2load run warms up (connections and pools come and go in both runs
# alike); only the second is counted. KEEP=FILE keeps the callgrind output
# (for callgrind_annotate --inclusive=yes FILE).
# Usage: bench/count-calls.sh ir|allocs SERVER [CALLS]   (default 20000)
set -eu
MODE=$1; S=$2; N=${3:-20000}
HERE=$(cd "$(dirname "$0")" && pwd)
for t in h2load valgrind callgrind_control callgrind_annotate cc; do
	command -v $t >/dev/null || { echo "count-calls: $t missing" >&2; exit 1; }
done
d=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$d"' EXIT INT TERM
id=GPU-4d2a9a8e-1c7e-4b1e-9f0a-3c5d6e7f8a9b
printf '\000\000\000\000\054\012\052\012\050%s' "$id" >"$d/alloc.grpc"

case $MODE in
ir)
	valgrind --tool=callgrind --callgrind-out-file="$d/cg.%p" \
	    "$S" --socket "$d/s.sock" >"$d/ready" 2>"$d/err" &
	;;
allocs)
	cc -O2 -shared -fPIC -o "$d/mcount.so" "$HERE/mcount.c"
	MCOUNT_OUT=$d/count LD_PRELOAD=$d/mcount.so \
	    "$S" --socket "$d/s.sock" >"$d/ready" 2>"$d/err" &
	;;
*)
	echo "count-calls: mode is ir or allocs" >&2; exit 2 ;;
esac
pid=$!
for _ in $(seq 400); do
	grep -q ready "$d/ready" 2>/dev/null && break
	sleep 0.05
done
grep -q ready "$d/ready" || { echo "count-calls: $S did not start" >&2; exit 1; }

run() {
	h2load -n "$N" -c 4 -m 32 -B "unix:$d/s.sock" -d "$d/alloc.grpc" \
	    -H 'content-type: application/grpc' -H 'te: trailers' \
	    http://localhost/v1beta1.DevicePlugin/Allocate >"$d/h2.out" 2>&1
	grep -q "$N succeeded" "$d/h2.out" || { cat "$d/h2.out" >&2; exit 1; }
}

if [ "$MODE" = ir ]; then
	run
	callgrind_control -z "$pid" >/dev/null
	run
	callgrind_control -d "$pid" >/dev/null
	sleep 0.5
	kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
	f=$(ls -t "$d"/cg.*.1 | head -1)
	ir=$(callgrind_annotate "$f" 2>/dev/null |
	    awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1; exit }')
	echo "$ir $N" | awk '{ printf "%.0f instructions per call\n", $1 / $2 }'
	[ -n "${KEEP:-}" ] && cp "$f" "$KEEP"
else
	run
	kill -USR2 "$pid"; sleep 0.2
	run
	kill -USR2 "$pid"; sleep 0.2
	kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
	awk -v n="$N" 'NR == 1 { a = $1 } NR == 2 { b = $1 }
	    END { printf "%.2f allocations per call\n", (b - a) / n }' "$d/count"
fi
exit 0
