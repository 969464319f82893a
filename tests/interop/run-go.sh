#!/bin/bash
# run-go.sh PEER TESTSERVER TESTCLIENT
#
# Runs the grpc-go interop tests (tests/interop/README.md): our C test server
# against the Go peer's conformance suite, then our C test client against the
# Go peer's kubelet-like Registration server. PEER is gdp-go-peer (built by
# go/build.sh), TESTSERVER and TESTCLIENT are grpc-testserver and
# grpc-testclient.
#
# Prints one `ok - ...` / `not ok - ...: reason` line per case (the suite's
# cases and this script's own), then `N passed, M failed` alone on the last
# line, and exits 1 if anything failed. Every step runs under `timeout`, and
# everything started here is killed and the scratch directory removed on
# exit, so a broken server can fail the run but not hang it.
#
# bash rather than sh: bash reaps background children as they exit, which
# the `kill -0` polls below rely on.
set -u

if [ $# -ne 3 ]; then
	echo "usage: $0 PEER TESTSERVER TESTCLIENT" >&2
	exit 2
fi
PEER=$1
TESTSERVER=$2
TESTCLIENT=$3
for f in "$PEER" "$TESTSERVER" "$TESTCLIENT"; do
	if [ ! -x "$f" ]; then
		echo "run-go.sh: not an executable: $f" >&2
		exit 2
	fi
done

dir=$(mktemp -d "${TMPDIR:-/tmp}/gdp-interop-go.XXXXXX") || exit 1

# Background processes run under `timeout`, which puts itself and its child
# in a process group of their own: killing that group gets both.
pids=""
cleanup() {
	for pid in $pids; do
		kill -KILL -- "-$pid" 2>/dev/null && { wait "$pid"; } 2>/dev/null
	done
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

passed=0
failed=0
ok() {
	passed=$((passed + 1))
	echo "ok - $1"
}
not_ok() {
	failed=$((failed + 1))
	echo "not ok - $1: $2"
}

# start LIMIT NAME CMD...: starts CMD in the background under timeout,
# stdout in $dir/NAME.out, stderr in $dir/NAME.err; its pid in $started.
start() {
	local limit=$1 name=$2
	shift 2
	timeout -k 25 "$limit" "$@" >"$dir/$name.out" 2>"$dir/$name.err" &
	started=$!
	pids="$pids $started"
}

# run LIMIT NAME CMD...: like start, then waits; returns CMD's exit status
# (124 when it ran out of time).
run() {
	start "$@"
	{ wait "$started"; } 2>/dev/null # the status says it; no bash notice
}

# wait_ready PID NAME: waits up to 10 s for the line `ready` on its stdout.
wait_ready() {
	local i
	for i in $(seq 100); do
		grep -qx ready "$dir/$2.out" 2>/dev/null && return 0
		kill -0 "$1" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# stop PID: SIGTERM (which timeout passes on), then up to 20 s to exit;
# returns its exit status, or 255 if it had to be killed.
stop() {
	local i
	kill -TERM "$1" 2>/dev/null
	for i in $(seq 200); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$1" 2>/dev/null; then
		kill -KILL -- "-$1" 2>/dev/null
		{ wait "$1"; } 2>/dev/null
		return 255
	fi
	wait "$1"
}

# tail_of NAME: the last lines of a process's stderr, on one line.
tail_of() {
	tail -n 3 "$dir/$1.err" 2>/dev/null | tr '\n' ' '
}

# show_err NAME: a process's stderr (its first 60 lines) as # comments,
# after a failure, e.g. a sanitizer report.
show_err() {
	[ -s "$dir/$1.err" ] && head -n 60 "$dir/$1.err" | sed "s/^/# $1 stderr: /"
	return 0
}

# stop_checked LABEL NAME PID SOCKET: stops a server and checks that it
# exited 0 and removed its socket.
stop_checked() {
	local label="$1 exits 0 on SIGTERM and removes its socket" name=$2 pid=$3 sock=$4 rc
	stop "$pid" 2>/dev/null # no "Killed" notice from bash
	rc=$?
	if [ "$rc" -eq 255 ] || [ "$rc" -eq 137 ]; then
		not_ok "$label" "still running 20 s after SIGTERM, killed $(tail_of "$name")"
		show_err "$name"
	elif [ "$rc" -ne 0 ]; then
		not_ok "$label" "exit status $rc $(tail_of "$name")"
		show_err "$name"
	elif [ -e "$sock" ]; then
		not_ok "$label" "exited 0 but left $sock behind"
	else
		ok "$label"
	fi
}

## Part 1: the Go peer's conformance suite against our test server.

plugin_sock=$dir/plugin.sock
# Under ASan, the test server's exit-time leak check after the load cases
# has been seen to outlast the 20 s stop allowance on a loaded 2-core
# machine ("stopped, exiting", then nothing), as in the Python runner
# (run-python.sh). Only that exit check is turned off here; the same
# server code is leak-checked by the unit, wire and allocation-fault tests
# and the fuzz replays, and the test client and peer keep theirs.
testserver_asan=${ASAN_OPTIONS:-}
[ "${GDP_SANITIZED:-}" = 1 ] && testserver_asan="$testserver_asan:detect_leaks=0"
ASAN_OPTIONS=$testserver_asan start 290 testserver "$TESTSERVER" \
    --socket "$plugin_sock"
server_pid=$started
if ! wait_ready "$server_pid" testserver; then
	not_ok "grpc-testserver starts and prints ready" "no 'ready' within 10 s $(tail_of testserver)"
	echo "$passed passed, $failed failed"
	exit 1
fi

run 200 suite "$PEER" client-suite --socket "$plugin_sock"
suite_rc=$?
summary=""
while IFS= read -r line; do
	case $line in
	[0-9]*" passed, "*" failed") summary=$line ;;
	*) echo "$line" ;;
	esac
done <"$dir/suite.out"
if [ -s "$dir/suite.err" ]; then
	sed 's/^/# client-suite stderr: /' "$dir/suite.err"
fi
s_passed=$(echo "$summary" | sed -n 's/^\([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed$/\1/p')
s_failed=$(echo "$summary" | sed -n 's/^\([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed$/\2/p')
if [ -z "$s_passed" ] || [ -z "$s_failed" ]; then
	not_ok "client-suite finishes" "no summary line (exit status $suite_rc)"
else
	echo "# client-suite: $summary"
	passed=$((passed + s_passed))
	failed=$((failed + s_failed))
	if [ "$suite_rc" -ne 0 ] && [ "$s_failed" -eq 0 ]; then
		not_ok "client-suite finishes" "exit status $suite_rc with no failed case"
	fi
fi

if kill -0 "$server_pid" 2>/dev/null; then
	ok "grpc-testserver is still running after the suite"
else
	not_ok "grpc-testserver is still running after the suite" "it exited early $(tail_of testserver)"
	show_err testserver
fi

## Part 2: our test client against the Go peer's Registration server.

kubelet_sock=$dir/kubelet.sock
start 120 peerserver "$PEER" server --socket "$kubelet_sock"
peer_pid=$started
if ! wait_ready "$peer_pid" peerserver; then
	not_ok "gdp-go-peer server starts and prints ready" "no 'ready' within 10 s $(tail_of peerserver)"
else
	# client_case NAME MAX_MS WANT_LINE ARGS...: runs the test client and
	# checks its one output line (WANT_LINE ending in * matches a prefix)
	# and, if MAX_MS is not 0, that it finished within MAX_MS ms.
	client_case() {
		local name=$1 max_ms=$2 want=$3 rc t0 ms got lines
		shift 3
		t0=$(date +%s%N)
		run 20 client "$TESTCLIENT" "$@"
		rc=$?
		ms=$((($(date +%s%N) - t0) / 1000000))
		lines=$(wc -l <"$dir/client.out")
		got=$(head -n 1 "$dir/client.out")
		if [ "$rc" -ne 0 ]; then
			not_ok "$name" "grpc-testclient exit status $rc, output '$got' $(tail_of client)"
			show_err client
		elif [ "$lines" -ne 1 ]; then
			not_ok "$name" "want exactly one output line, got $lines: $(tr '\n' '|' <"$dir/client.out")"
		elif [ "${want%\*}" != "$want" ] && [ "${got#"${want%\*}"}" = "$got" ]; then
			not_ok "$name" "got '$got', want '$want'"
		elif [ "${want%\*}" = "$want" ] && [ "$got" != "$want" ]; then
			not_ok "$name" "got '$got', want '$want'"
		elif [ "$max_ms" -ne 0 ] && [ "$ms" -gt "$max_ms" ]; then
			not_ok "$name" "took $ms ms, want at most $max_ms ms"
		else
			ok "$name"
		fi
	}

	client_case "testclient: Register with dial-back to the plugin socket" 0 \
		"status=0 message=" \
		--socket "$kubelet_sock" --serve "$dir/dp.sock"
	client_case "testclient: error status and UTF-8 message from the kubelet" 0 \
		"status=7 message=requested failure: ünïcödé 100% ✓" \
		--socket "$kubelet_sock" --resource status.example.com/7
	client_case "testclient: --timeout-ms 200 against a 3 s Register is DEADLINE_EXCEEDED" 2000 \
		"status=4 message=*" \
		--socket "$kubelet_sock" --resource sleep.example.com/3000 --timeout-ms 200
	client_case "testclient: unsupported version gets the kubelet's UNKNOWN error" 0 \
		'status=2 message=requested API version "v1alpha1" is not supported by kubelet. Supported version is ["v1beta1"]' \
		--socket "$kubelet_sock" --version v1alpha1
	client_case "testclient: missing kubelet socket is UNAVAILABLE" 0 \
		"status=14 message=*" \
		--socket "$dir/missing.sock"

	stop_checked "gdp-go-peer server" peerserver "$peer_pid" "$kubelet_sock"
fi

## Part 3: the test server's own shutdown.

stop_checked grpc-testserver testserver "$server_pid" "$plugin_sock"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
