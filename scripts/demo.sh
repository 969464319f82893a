#!/bin/sh
# demo.sh: install what is missing, build, and show gpu-device-plugin at
# work on a machine with no GPU and no cluster.
#
# The node is an Azure Standard_NC6 (one Tesla K80), played by the fake
# libnvidia-ml.so.1 with the azure-nc6 profile; the kubelet is played by
# the stand-in built on grpc-go (the kubelet's own gRPC library), which
# does what the kubelet's device manager does: takes the registration,
# dials the plugin back, watches ListAndWatch, and calls Allocate when a
# pod asks for a GPU. The plugin is the real binary.
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
[ -f build/build.ninja ] || meson setup build >/dev/null
ninja -C build >/dev/null

PLUGIN=build/src/gpu-device-plugin
KUBELET=build/tests/kubelet/gdp-kubelet
PROFILE=tests/fakenvml/profiles/azure-nc6.yaml
dir=$(mktemp -d)
kpid=""
ppid=""
cleanup() {
	[ -n "$ppid" ] && kill "$ppid" 2>/dev/null
	[ -n "$kpid" ] && kill "$kpid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM

export LD_LIBRARY_PATH=build/tests/fakenvml
export FAKE_NVML_PROFILE=$PROFILE
tests/fakenvml/make-sysfs.sh "$PROFILE" "$dir/sys"
mkdir -p "$dir/device-plugins"
ctl() { $KUBELET ctl --control "$dir/control.sock" "$@"; }

echo "== The node's GPUs, as the plugin sees them (gpu-device-plugin list)"
$PLUGIN list --sysfs-root "$dir/sys" --kubelet-socket "$dir/device-plugins/kubelet.sock"
echo

echo "== The kubelet (stand-in) starts; then the plugin"
$KUBELET --dir "$dir/device-plugins" --control "$dir/control.sock" \
    >"$dir/kubelet.out" 2>"$dir/kubelet.log" &
kpid=$!
for _ in $(seq 100); do grep -q ready "$dir/kubelet.out" && break; sleep 0.05; done
$PLUGIN --kubelet-socket "$dir/device-plugins/kubelet.sock" \
    --sysfs-root "$dir/sys" 2>"$dir/plugin.log" &
ppid=$!
ctl POST /wait '{"resource":"nvidia.com/gpu","allocatable":1,"timeout_ms":10000}' >/dev/null
sed 's/^/   plugin: /' "$dir/plugin.log"
echo

echo "== kubectl describe node (the device plugin's part)"
ctl GET /describe
echo

echo "== A pod asks for nvidia.com/gpu: 1; the kubelet calls Allocate:"
ctl POST /allocate-pod '{"resource":"nvidia.com/gpu","count":1}' |
    tee "$dir/allocate.json"
echo
echo

# The pod's container gets the environment Allocate returned; the fake GPU
# has no CUDA driver, so gpu-validate says so and trains on the CPU path.
# 100 steps, not the Job's 500, to keep the demo quick.
echo "== The validation Job's container runs with that environment"
echo "   (kubectl logs job/samples-tf-mnist-demo; 100 steps, the Job runs 500):"
envs=$(python3 -c '
import json, shlex, sys
def find(o):
    if isinstance(o, dict):
        if isinstance(o.get("envs"), dict):
            return o["envs"]
        o = list(o.values())
    if isinstance(o, list):
        for v in o:
            e = find(v)
            if e is not None:
                return e
print(" ".join("%s=%s" % (k, shlex.quote(v))
               for k, v in sorted((find(json.load(sys.stdin)) or {}).items())))
' <"$dir/allocate.json")
echo "   env: $envs"
eval "env LD_LIBRARY_PATH= OPENBLAS_NUM_THREADS=1 $envs" \
    build/src/validate/gpu-validate --max_steps 100 | sed 's/^/   /'
echo

echo "== SIGTERM: the plugin stops and removes its socket"
kill "$ppid"
wait "$ppid" && echo "   exit status 0"
ppid=""
[ -e "$dir/device-plugins/nvidia-gpu.sock" ] || echo "   nvidia-gpu.sock removed"
