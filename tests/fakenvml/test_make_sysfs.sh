#!/bin/sh
# test_make_sysfs.sh: make-sysfs.sh writes one numa_node per GPU, named
# the way the plugin looks it up (lower case, four-digit domain).
# Usage: test_make_sysfs.sh MAKE_SYSFS PROFILES_DIR
set -eu
make_sysfs=$1
profiles=$2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

fail() { echo "not ok: $*" >&2; exit 1; }

# expect PROFILE "BDF NUMA ..." : exactly these files with these values.
expect() {
	rm -rf "$out"/*
	"$make_sysfs" "$profiles/$1" "$out"
	got=$(cd "$out" && find . -name numa_node | sort | while read -r f; do
		b=${f#./bus/pci/devices/}
		printf '%s %s ' "${b%/numa_node}" "$(cat "$f")"
	done)
	[ "$got" = "$2" ] || fail "$1: wanted '$2', got '$got'"
}

expect azure-nc6.yaml "a3a1:00:00.0 0 "
expect azure-nc24.yaml "4e1c:00:00.0 0 5f2d:00:00.0 0 802e:00:00.0 1 \
913f:00:00.0 1 "
expect azure-nd96asr-v4.yaml "0001:00:00.0 0 0002:00:00.0 0 0003:00:00.0 0 \
0004:00:00.0 0 000b:00:00.0 1 000c:00:00.0 1 000d:00:00.0 1 000e:00:00.0 1 "
expect dgx-h100.yaml "0000:1b:00.0 0 0000:43:00.0 0 0000:52:00.0 0 \
0000:61:00.0 0 0000:9d:00.0 1 0000:c3:00.0 1 0000:d1:00.0 1 0000:df:00.0 1 "
expect no-gpus.yaml ""
# MIG devices, a list inside each GPU, are no GPUs of their own.
expect a100-sxm4-40gb-mig.yaml "0000:07:00.0 0 0000:0f:00.0 1 "
echo "ok"
