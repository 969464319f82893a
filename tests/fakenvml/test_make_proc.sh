#!/bin/sh
# test_make_proc.sh: make-proc.sh writes mig-minors with the driver's
# numbering: config 1, monitor 2, then 9 minors per GPU instance (its
# access, then ci0..ci7), 15 GPU instances per GPU minor.
# Usage: test_make_proc.sh MAKE_PROC PROFILES_DIR
set -eu
make_proc=$1
profiles=$2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

fail() { echo "not ok: $*" >&2; exit 1; }

"$make_proc" "$profiles/a100-sxm4-40gb-mig.yaml" "$out"
f=$out/driver/nvidia-caps/mig-minors
[ -r "$f" ] || fail "no $f"
n=$(wc -l <"$f")
[ "$n" -eq $((2 + 2 * 15 * 9)) ] || fail "$n lines"
for want in "config 1" "monitor 2" "gpu0/gi0/access 3" \
    "gpu0/gi0/ci7/access 11" "gpu0/gi1/access 12" "gpu0/gi13/access 120" \
    "gpu0/gi13/ci0/access 121" "gpu1/gi0/access 138" \
    "gpu1/gi14/ci7/access 272"; do
	grep -qx "$want" "$f" || fail "no line '$want'"
done
# One GPU, minor 0 only.
"$make_proc" "$profiles/mig-c-lt-g.yaml" "$out"
grep -q '^gpu1/' "$f" && fail "mig-c-lt-g.yaml has one GPU"
echo "ok: make-proc.sh"
