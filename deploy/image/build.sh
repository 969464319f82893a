#!/bin/sh
# build.sh: builds the plugin's container image without a container daemon.
#
#   build.sh --plugin BIN [--config-manager BIN] --out DIR [--version V]
#            [--revision R] [--source URL] [--name NAME]
#   build.sh --plugin BIN [--config-manager BIN] --rootfs DIR
#
# The image is a root file system made by hand: the plugin binary (also
# named nvidia-device-plugin, which the GPU Operator's entrypoint and
# NVIDIA's manifests call), the shared libraries it is linked against and
# the dynamic loader (found with ldd, copied from this machine), a static
# busybox for /bin/sh, lsmod and sleep, and the entrypoint script. Nothing
# else of a distribution goes in, so the image stays small and holds no
# package manager, no shell utilities and no users. With --config-manager,
# gdp-config-manager goes in too (also named config-manager, the name
# NVIDIA's chart and the GPU Operator run), with its own libraries
# (mbedTLS): the Helm chart's init container and sidecar run it from this
# same image.
#
# With --rootfs only that tree is written (the Containerfile uses this,
# so both ways of building give the same files). With --out, umoci turns
# the tree into an OCI image layout (DIR/oci, tag VERSION) with NVIDIA's
# image environment and the OCI labels, and skopeo writes a docker-archive
# tarball (DIR/NAME.tar) that docker load and ctr import accept. Sizes
# are printed at the end: DIR/size.txt keeps them as NAME=bytes lines.
#
# Needs: ldd, strip (binutils), umoci, skopeo, and busybox-static's
# /bin/busybox. Run as root (umoci keeps file owners as root only then).
set -eu
# The tree's modes must not depend on the caller's umask.
umask 022

here=$(cd "$(dirname "$0")" && pwd)
plugin="" cfgmgr="" out="" rootfs="" version="" revision="" source="" name=""
BUSYBOX=${BUSYBOX:-/bin/busybox}

die() {
	echo "build.sh: $*" >&2
	exit 1
}

while [ $# -gt 0 ]; do
	case "$1" in
	--plugin|--config-manager|--out|--rootfs|--version|--revision|--source|\
	    --name)
		[ $# -ge 2 ] || die "$1 needs a value"
		v=$2
		case "$1" in
		--plugin) plugin=$v ;;
		--config-manager) cfgmgr=$v ;;
		--out) out=$v ;;
		--rootfs) rootfs=$v ;;
		--version) version=$v ;;
		--revision) revision=$v ;;
		--source) source=$v ;;
		--name) name=$v ;;
		esac
		shift 2 ;;
	*) die "unknown argument '$1' (see the comment at the top)" ;;
	esac
done

[ -n "$plugin" ] || die "--plugin BIN is required"
[ -x "$plugin" ] || die "$plugin: not an executable file"
[ -z "$cfgmgr" ] || [ -x "$cfgmgr" ] ||
    die "$cfgmgr: not an executable file"
[ -n "$out" ] || [ -n "$rootfs" ] || die "give --out DIR or --rootfs DIR"
[ -x "$BUSYBOX" ] || die "$BUSYBOX: missing (install busybox-static)"
if ldd "$BUSYBOX" >/dev/null 2>&1; then
	die "$BUSYBOX is dynamically linked: install busybox-static"
fi

# The version, revision and source default to what git says about the
# tree this script is in; outside a checkout they say "unknown".
git_say() {
	git -C "$here" "$@" 2>/dev/null || echo unknown
}
[ -n "$version" ] || version=$(git_say describe --tags --always --dirty)
[ -n "$revision" ] || revision=$(git_say rev-parse HEAD)
[ -n "$source" ] || source=$(git_say config --get remote.origin.url)
[ -n "$name" ] || name=gpu-device-plugin

# copy_lib FILE: copies FILE (symlinks followed) into the tree under the
# same path, so the loader's default directories find it.
copy_lib() {
	dst="$rootfs$1"
	mkdir -p "$(dirname "$dst")"
	cp -L "$1" "$dst"
	chmod 0755 "$dst"
}

# make_rootfs: writes the whole tree into $rootfs (which must not exist
# or be empty).
make_rootfs() {
	if [ -e "$rootfs" ] && [ -n "$(ls -A "$rootfs")" ]; then
		die "$rootfs: exists and is not empty"
	fi
	mkdir -p "$rootfs/bin" "$rootfs/usr/bin"
	for d in dev proc sys etc run var/lib/kubelet/device-plugins \
	    driver-root; do
		mkdir -p "$rootfs/$d"
	done
	mkdir -p "$rootfs/tmp"
	chmod 1777 "$rootfs/tmp"

	cp "$plugin" "$rootfs/usr/bin/gpu-device-plugin"
	strip --strip-unneeded "$rootfs/usr/bin/gpu-device-plugin"
	chmod 0755 "$rootfs/usr/bin/gpu-device-plugin"
	ln -s gpu-device-plugin "$rootfs/usr/bin/nvidia-device-plugin"

	cp "$BUSYBOX" "$rootfs/bin/busybox"
	for applet in sh lsmod sleep; do
		ln -s busybox "$rootfs/bin/$applet"
	done
	cp "$here/entrypoint.sh" "$rootfs/bin/entrypoint.sh"
	chmod 0755 "$rootfs/bin/entrypoint.sh"

	if [ -n "$cfgmgr" ]; then
		cp "$cfgmgr" "$rootfs/usr/bin/gdp-config-manager"
		strip --strip-unneeded "$rootfs/usr/bin/gdp-config-manager"
		chmod 0755 "$rootfs/usr/bin/gdp-config-manager"
		ln -s gdp-config-manager "$rootfs/usr/bin/config-manager"
	fi
	copy_libs_of "$plugin"
	[ -z "$cfgmgr" ] || copy_libs_of "$cfgmgr"
}

# copy_libs_of EXE: the shared libraries EXE is linked against, and the
# loader, into the tree (a library already there is copied again, which
# is harmless).
copy_libs_of() {
	# ldd lines: "libx.so.1 => /lib/.../libx.so.1 (0x...)" for
	# libraries, "/lib64/ld-linux-x86-64.so.2 (0x...)" for the loader;
	# the vDSO has no file.
	libs=$(ldd "$1" | awk '
	    $2 == "=>" && $3 ~ /^\// { print $3; next }
	    $1 ~ /^\// { print $1 }')
	[ -n "$libs" ] || die "ldd found no libraries for $1"
	if ldd "$1" | grep -q 'not found'; then
		die "$1: a library is missing: $(ldd "$1" | grep 'not found')"
	fi
	for lib in $libs; do
		copy_lib "$lib"
	done
}

if [ -z "$out" ]; then
	make_rootfs
	exit 0
fi

command -v umoci >/dev/null 2>&1 || die "umoci: not found (apt-get install umoci)"
command -v skopeo >/dev/null 2>&1 || die "skopeo: not found (apt-get install skopeo)"
[ ! -e "$out" ] || [ -z "$(ls -A "$out")" ] ||
    die "$out: exists and is not empty"
mkdir -p "$out"
out=$(cd "$out" && pwd)
rootfs="$out/rootfs"
make_rootfs

# umoci takes a tag name of letters, digits, '.', '_' and '-'.
tag=$(printf '%s' "$version" | tr -c 'A-Za-z0-9._-' '_')
img="$out/oci:$tag"
umoci init --layout "$out/oci"
umoci new --image "$img"
umoci unpack --image "$img" "$out/bundle" >/dev/null
cp -a "$rootfs/." "$out/bundle/rootfs/"
umoci repack --image "$img" --history.created_by "deploy/image/build.sh" \
    "$out/bundle"
rm -rf "$out/bundle"

# NVIDIA's image environment: the NVIDIA container runtime gives the
# plugin every GPU and the driver's compute and utility libraries, and
# does not check CUDA requirements (the plugin has none).
umoci config --image "$img" \
    --config.user 0:0 \
    --config.workingdir / \
    --config.env PATH=/usr/bin:/bin \
    --config.env NVIDIA_VISIBLE_DEVICES=all \
    --config.env NVIDIA_DRIVER_CAPABILITIES=compute,utility \
    --config.env NVIDIA_DISABLE_REQUIRE=true \
    --config.entrypoint /bin/entrypoint.sh \
    --clear config.cmd \
    --config.label org.opencontainers.image.title="$name" \
    --config.label org.opencontainers.image.version="$version" \
    --config.label org.opencontainers.image.revision="$revision" \
    --config.label org.opencontainers.image.source="$source" \
    --config.label org.opencontainers.image.licenses=Apache-2.0 \
    --history.created_by "deploy/image/build.sh: config"
umoci gc --layout "$out/oci"

# A local copy, so no signature policy applies (--insecure-policy).
skopeo --insecure-policy copy -q "oci:$img" \
    "docker-archive:$out/$name.tar:$name:$tag"

# Sizes: the compressed size is what a registry stores and a node pulls
# (the gzip layer, the config and the manifest); uncompressed is the
# file contents of the root file system.
blobs=0
for f in "$out"/oci/blobs/sha256/*; do
	blobs=$((blobs + $(stat -c %s "$f")))
done
files=$(find "$rootfs" -type f -printf '%s\n' | awk '{ s += $1 } END {
    print s + 0 }')
archive=$(stat -c %s "$out/$name.tar")
cat > "$out/size.txt" <<END
compressed=$blobs
uncompressed=$files
docker_archive=$archive
END
echo "image $name:$tag (revision $revision)"
echo "  OCI layout:     $out/oci (tag $tag)"
echo "  docker-archive: $out/$name.tar ($archive bytes)"
echo "  compressed:     $blobs bytes (gzip layer + config + manifest)"
echo "  uncompressed:   $files bytes of files"
find "$rootfs" -type f -printf '    %8s  /%P\n' | sort -k2
