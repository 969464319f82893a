#!/bin/sh
# demo.sh: install what is missing, build, and show the gRPC layer working
# with grpc-go, the kubelet's own gRPC library, on a machine with no GPU
# and no cluster.
#
#  1. A kubelet stand-in (grpc-go) serves Registration on kubelet.sock.
#  2. Our client sends Register while our server, on the same event loop,
#     serves the DevicePlugin service on its own socket; the stand-in dials
#     back and calls GetDevicePluginOptions before it answers, as the real
#     kubelet does.
#  3. grpc-go calls our server: the conformance suite (unary calls,
#     ListAndWatch streaming, errors, deadlines, 4 MiB limits, slow
#     readers, vanishing clients, many connections).
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
[ -f build/build.ninja ] || meson setup build >/dev/null
ninja -C build >/dev/null

B=build/tests/interop
dir=$(mktemp -d)
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM

wait_ready() {
	for _ in $(seq 100); do
		grep -q ready "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "demo: $2 did not start" >&2
	exit 1
}

echo "== 1. kubelet stand-in (grpc-go) listening on $dir/kubelet.sock"
$B/gdp-go-peer server --socket "$dir/kubelet.sock" >"$dir/kubelet.out" 2>&1 &
pids="$pids $!"
wait_ready "$dir/kubelet.out" "the kubelet stand-in"

echo "== 2. Register, serving the DevicePlugin service on the same loop"
$B/grpc-testclient --socket "$dir/kubelet.sock" \
    --serve "$dir/example-dev.sock" --resource example.com/dev
echo "   (status=0: the stand-in dialed back, called GetDevicePluginOptions,"
echo "    then answered Register)"

echo "== 3. grpc-go calling our gRPC server"
$B/grpc-testserver --socket "$dir/plugin.sock" >"$dir/server.out" 2>&1 &
pids="$pids $!"
wait_ready "$dir/server.out" "grpc-testserver"
$B/gdp-go-peer client-suite --socket "$dir/plugin.sock" | grep -v '^#'
