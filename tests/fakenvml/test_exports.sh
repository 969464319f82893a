#!/bin/sh
# test_exports.sh: the fake library exports NVML entry points and nothing
# else, and carries NVML's soname. The linker's own section bounds
# (__start_SECTION, __stop_SECTION, from sanitizer coverage in fuzz
# builds) are not ours and are let through.
# Usage: test_exports.sh LIBRARY
set -eu
lib=$1
extra=$(nm -D --defined-only "$lib" |
    awk '$3 !~ /^(nvml|__start_|__stop_)/ { print $3 }')
[ -z "$extra" ] || { echo "not ok: exported besides NVML: $extra" >&2; exit 1; }
soname=$(readelf -d "$lib" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
[ "$soname" = "libnvidia-ml.so.1" ] ||
    { echo "not ok: soname is '$soname'" >&2; exit 1; }
echo "ok: $(nm -D --defined-only "$lib" | grep -c ' T nvml') entry points"
