#!/bin/sh
# test_exports.sh: the fake library exports NVML entry points and nothing
# else, each as an indirect function (so FAKE_NVML_HIDE can hide any of
# them, see exports.c), with no relocation of its own referring to them
# (the dynamic linker would run their resolvers while relocating it), and
# carries NVML's soname. The linker's own section bounds (__start_SECTION,
# __stop_SECTION, from sanitizer coverage in fuzz builds) are not ours and
# are let through.
# Usage: test_exports.sh LIBRARY
set -eu
lib=$1
extra=$(nm -D --defined-only "$lib" |
    awk '$3 !~ /^(nvml|__start_|__stop_)/ { print $3 }')
[ -z "$extra" ] || { echo "not ok: exported besides NVML: $extra" >&2; exit 1; }
plain=$(nm -D --defined-only "$lib" | awk '$3 ~ /^nvml/ && $2 != "i" { print $3 }')
[ -z "$plain" ] || { echo "not ok: not an IFUNC: $plain" >&2; exit 1; }
selfref=$(readelf -rW "$lib" | grep -E 'IRELATIV| nvml' || true)
[ -z "$selfref" ] ||
    { echo "not ok: relocations against entry points: $selfref" >&2; exit 1; }
soname=$(readelf -d "$lib" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
[ "$soname" = "libnvidia-ml.so.1" ] ||
    { echo "not ok: soname is '$soname'" >&2; exit 1; }
echo "ok: $(nm -D --defined-only "$lib" | grep -c ' i nvml') entry points"
