#!/bin/sh
# build-deb.sh: builds the Debian package gpu-device-plugin (debian/) from
# this checkout, out of tree: the files git knows (tracked, and new ones
# not ignored, so uncommitted work is packaged too) are copied into a
# temporary directory and dpkg-buildpackage runs there, because it writes
# debian/ artifacts and ../*.deb next to the source. The source tree is
# left as it was (`git status` stays clean).
#
# Usage: scripts/build-deb.sh [OUTDIR]   (default: the current directory)
# Writes OUTDIR/gpu-device-plugin_VERSION_ARCH.deb, the source package
# (.dsc, .tar.xz: native) and the .buildinfo and .changes that name them
# all, for lintian; the build's log goes to OUTDIR/build-deb.log. Needs
# debhelper, dpkg-dev and the Build-Depends of debian/control
# (scripts/install-deps.sh installs them).
set -eu

src=$(cd "$(dirname "$0")/.." && pwd)
out=$(mkdir -p "${1:-.}" && cd "${1:-.}" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/gdp-deb.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

mkdir "$tmp/gpu-device-plugin"
if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	# Deleted but not yet committed files are listed and absent: skip
	# them.
	# shellcheck disable=SC2016 # $f is the inner shell's, unexpanded
	(cd "$src" && git ls-files -z --cached --others --exclude-standard |
	    xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f";
	    done' sh | tar --null -T - -cf -) |
	    tar -xf - -C "$tmp/gpu-device-plugin"
else
	(cd "$src" && tar --exclude='./build*' -cf - .) |
	    tar -xf - -C "$tmp/gpu-device-plugin"
fi

log="$out/build-deb.log"
if ! (cd "$tmp/gpu-device-plugin" &&
    dpkg-buildpackage -us -uc) >"$log" 2>&1; then
	tail -n 40 "$log" >&2
	echo "build-deb: dpkg-buildpackage failed; log: $log" >&2
	exit 1
fi
for f in "$tmp"/*.deb "$tmp"/*.dsc "$tmp"/*.tar.* "$tmp"/*.buildinfo \
    "$tmp"/*.changes; do
	[ -e "$f" ] && cp "$f" "$out/"
done
ls "$out"/gpu-device-plugin_*.deb
