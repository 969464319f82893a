#!/bin/sh
# validate-bench.sh: time for 500 steps of gpu-validate's CPU path against
# the same network in NumPy (bench/validate_numpy.py), in the same run:
# 3 alternating rounds, the median wall time of each, and their ratio.
# One BLAS thread for both (OpenBLAS underneath both), whole process
# timed (both load the same idx files).
# Usage: bench/validate-bench.sh [BUILD_DIR] [DATA_DIR]
set -eu
build=${1:-build}
data=${2:-/opt/gdp-tools/mnist}
prog="$build/src/validate/gpu-validate"
here=$(dirname "$0")
export OPENBLAS_NUM_THREADS=1
# Debian's python3, where python3-numpy is installed
py=/usr/bin/python3

wall() {
	start=$(date +%s.%N)
	"$@" >"$tmp/last.log"
	end=$(date +%s.%N)
	awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f\n", b - a }'
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
: >"$tmp/ours"
: >"$tmp/numpy"
for round in 1 2 3; do
	wall "$prog" --device cpu --max_steps 500 --data_dir "$data" >>"$tmp/ours"
	ours_acc=$(grep 'step 490' "$tmp/last.log")
	wall "$py" "$here/validate_numpy.py" "$data" 500 >>"$tmp/numpy"
	numpy_acc=$(grep 'step 490' "$tmp/last.log")
	echo "round $round: ours $(tail -n1 "$tmp/ours")s ($ours_acc)," \
	    "numpy $(tail -n1 "$tmp/numpy")s ($numpy_acc)"
done
o=$(sort -n "$tmp/ours" | sed -n 2p)
n=$(sort -n "$tmp/numpy" | sed -n 2p)
echo "median: gpu-validate --device cpu ${o}s, numpy ${n}s," \
    "numpy/ours $(awk -v a="$n" -v b="$o" 'BEGIN { printf "%.2f", a / b }')"
