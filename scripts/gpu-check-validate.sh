#!/bin/sh
# gpu-check-validate.sh: what gpu-validate can only show on a machine with
# an NVIDIA GPU and driver (never part of the test suite): the device lines
# and allocation check against the real libcuda.so.1, the embedded PTX
# JIT-compiled by the real driver, and its kernels training the network
# (--device gpu) to the CPU path's accuracy with the same seed
# (tests/validate/validate-test.py real-gpu). docs/validation.md says what
# each step should print.
# Usage: scripts/gpu-check-validate.sh [BUILD_DIR] [DATA_DIR]
set -eu
build=${1:-build}
data=${2:-/opt/gdp-tools/mnist}
prog="$build/src/validate/gpu-validate"
nvidia-smi -L || true
uuids=$(nvidia-smi --query-gpu=uuid --format=csv,noheader 2>/dev/null |
    paste -sd, - || true)
echo "== NVIDIA_VISIBLE_DEVICES=$uuids (every GPU by UUID): must pass"
NVIDIA_VISIBLE_DEVICES="$uuids" "$prog" --device gpu --max_steps 500 \
    --data_dir "$data"
echo "== 500 steps on the GPU and on the CPU, same seed: must agree"
python3 "$(dirname "$0")/../tests/validate/validate-test.py" real-gpu \
    "$prog" "$data"
echo "== a UUID no GPU has: must fail"
if NVIDIA_VISIBLE_DEVICES=GPU-00000000-0000-0000-0000-000000000000 \
    "$prog" --max_steps 1 --data_dir "$data"; then
	echo "gpu-check-validate: the mismatch was not caught" >&2
	exit 1
fi
echo "gpu-check-validate: done"
