#!/bin/bash
# Runs the grpc core (Python grpcio) interop tests of our gRPC layer:
#   1. our grpc-testserver, with the Python peer's client suite against it;
#   2. the Python peer's kubelet-like Registration server, with our
#      grpc-testclient calling it (dial-back, error status, deadline,
#      version check, missing socket);
#   3. a clean SIGTERM shutdown of both servers.
# Contract of every piece: tests/interop/README.md.
#
# Usage: run-python.sh PEER_PY PROTO TESTSERVER TESTCLIENT
# Prints "ok - <case>" / "not ok - <case>: <reason>" per case and, last,
# "N passed, M failed" over all cases; exits 1 if any case failed.
# Every step runs under timeout(1), so the script never hangs.
# Why a separate script per peer: each peer needs its own runtime (here
# Debian's /usr/bin/python3, which sees python3-grpcio).

set -u

if [ $# -ne 4 ]; then
    echo "usage: $0 PEER_PY PROTO TESTSERVER TESTCLIENT" >&2
    exit 2
fi
PEER_PY=$1
PROTO=$2
TESTSERVER=$3
TESTCLIENT=$4
PYTHON=/usr/bin/python3

passed=0
failed=0
server_pid=""
peer_pid=""

pass() {
    passed=$((passed + 1))
    echo "ok - $1"
}

fail() {
    failed=$((failed + 1))
    echo "not ok - $1: $2"
}

dir=$(mktemp -d "${TMPDIR:-/tmp}/interop-python.XXXXXX") || exit 1

# Each server runs under timeout(1), which makes itself the leader of a new
# process group: killing that group ends the server too.
cleanup() {
    for pid in $server_pid $peer_pid; do
        kill -KILL -- "-$pid" 2>/dev/null
    done
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# wait_ready PID FILE: wait up to 10 s for a line "ready" in FILE while
# PID lives; sets ready_error to why not.
wait_ready() {
    local i
    for i in $(seq 200); do
        if grep -qx ready "$2" 2>/dev/null; then
            return 0
        fi
        if ! kill -0 "$1" 2>/dev/null; then
            wait "$1"
            ready_error="exited with status $? before printing ready"
            return 1
        fi
        sleep 0.05
    done
    ready_error="no 'ready' within 10 s"
    return 1
}

# stop PID: SIGTERM, wait up to 20 s, then SIGKILL; sets stop_rc to the
# exit status (or "killed").
stop() {
    local i
    kill -TERM "$1" 2>/dev/null
    for i in $(seq 400); do
        kill -0 "$1" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$1" 2>/dev/null; then
        kill -KILL -- "-$1" 2>/dev/null
        wait "$1" 2>/dev/null
        stop_rc=killed
    else
        wait "$1"
        stop_rc=$?
    fi
}

# --- 1. our test server, the Python client suite -------------------------

# Under the sanitizers, LeakSanitizer's exit-time check in this one
# process hung now and then in full CI runs (after main had returned: the
# server's "stopped, exiting" line was printed), never when rerun alone or
# under load; the cause is not found yet. The same test server runs with
# leak checking in the Go interop suite, and the fuzz replays, unit tests
# and plugin tests check the same code for leaks, so here only the exit
# check is turned off.
testserver_asan=${ASAN_OPTIONS:-}
[ "${GDP_SANITIZED:-}" = 1 ] && testserver_asan="$testserver_asan:detect_leaks=0"
ASAN_OPTIONS=$testserver_asan timeout -k 25 600 "$TESTSERVER" --socket "$dir/plugin.sock" \
    >"$dir/testserver.out" 2>"$dir/testserver.err" &
server_pid=$!
if wait_ready "$server_pid" "$dir/testserver.out"; then
    pass "testserver prints ready"
    timeout -k 25 300 "$PYTHON" -B "$PEER_PY" client-suite \
        --socket "$dir/plugin.sock" --proto "$PROTO" \
        >"$dir/suite.out" 2>"$dir/suite.err"
    suite_rc=$?
    # Relay the suite's cases; its own summary becomes a diagnostic, the
    # cases count in the totals below.
    while IFS= read -r line; do
        case $line in
            "ok - "*) passed=$((passed + 1)); echo "$line" ;;
            "not ok - "*) failed=$((failed + 1)); echo "$line" ;;
            *" passed, "*" failed") echo "# python client suite: $line" ;;
            *) echo "$line" ;;
        esac
    done <"$dir/suite.out"
    if ! tail -n 1 "$dir/suite.out" | grep -qE '^[0-9]+ passed, [0-9]+ failed$'
    then
        fail "python client suite completes" \
            "exit $suite_rc without a summary; stderr: $(tail -n 3 "$dir/suite.err" | tr '\n' ' ')"
    fi
else
    fail "testserver prints ready" \
        "$ready_error; stderr: $(tail -n 3 "$dir/testserver.err" | tr '\n' ' ')"
    kill -KILL -- "-$server_pid" 2>/dev/null
    server_pid=""
fi

# --- 2. the Python Registration server, our test client ------------------

timeout -k 25 600 "$PYTHON" -B "$PEER_PY" server --socket "$dir/kubelet.sock" \
    --proto "$PROTO" >"$dir/peer.out" 2>"$dir/peer.err" &
peer_pid=$!

# client NAME EXPECTED_LINE_PATTERN ARGS...: run the test client with a time
# limit; it must exit 0 and print one line matching the extended regex.
client() {
    local name=$1 want=$2 out rc
    shift 2
    out=$(timeout -k 25 30 "$TESTCLIENT" "$@" 2>"$dir/client.err")
    rc=$?
    if [ $rc -ne 0 ]; then
        fail "$name" "exit status $rc, output '$out', stderr: $(tail -n 3 "$dir/client.err" | tr '\n' ' ')"
    elif [ "$(printf '%s\n' "$out" | wc -l)" -ne 1 ] ||
        ! printf '%s\n' "$out" | grep -qE "$want"; then
        fail "$name" "expected a line matching '$want', got '$out'"
    else
        pass "$name"
    fi
}

if wait_ready "$peer_pid" "$dir/peer.out"; then
    pass "python Registration server prints ready"
    client "testclient: Register with dial-back" '^status=0 message=' \
        --socket "$dir/kubelet.sock" --serve "$dir/dp.sock"
    client "testclient: error status with unicode message" \
        '^status=7 message=requested failure: ünïcödé 100% ✓$' \
        --socket "$dir/kubelet.sock" --resource status.example.com/7
    client "testclient: deadline" '^status=4 message=' \
        --socket "$dir/kubelet.sock" --resource sleep.example.com/3000 \
        --timeout-ms 200
    client "testclient: unsupported version" \
        '^status=2 message=requested API version "v1alpha1" is not supported by kubelet\. Supported version is \["v1beta1"\]$' \
        --socket "$dir/kubelet.sock" --version v1alpha1
else
    fail "python Registration server prints ready" \
        "$ready_error; stderr: $(tail -n 3 "$dir/peer.err" | tr '\n' ' ')"
    kill -KILL -- "-$peer_pid" 2>/dev/null
    peer_pid=""
fi
client "testclient: missing socket" '^status=14 message=' \
    --socket "$dir/missing.sock"

# --- 3. shutdown ---------------------------------------------------------

if [ -n "$peer_pid" ]; then
    stop "$peer_pid"
    peer_pid=""
    if [ "$stop_rc" = 0 ] && [ ! -e "$dir/kubelet.sock" ]; then
        pass "python Registration server stops on SIGTERM"
    else
        fail "python Registration server stops on SIGTERM" \
            "exit status $stop_rc, socket $([ -e "$dir/kubelet.sock" ] && echo left || echo removed)"
    fi
fi
if [ -n "$server_pid" ]; then
    stop "$server_pid"
    server_pid=""
    if [ "$stop_rc" = 0 ] && [ ! -e "$dir/plugin.sock" ]; then
        pass "testserver exits 0 on SIGTERM and removes its socket"
    else
        fail "testserver exits 0 on SIGTERM and removes its socket" \
            "exit status $stop_rc, socket $([ -e "$dir/plugin.sock" ] && echo left || echo removed)"
        sed 's/^/#   testserver: /' "$dir/testserver.err" | tail -n 40
    fi
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
