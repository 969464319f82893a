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

prog=build.sh
# die, git_say, copy_lib, copy_libs_of, copy_exe and the umoci/skopeo
# steps, shared with deploy/validation/build.sh.
# shellcheck source=deploy/image/oci.sh
. "$here/oci.sh"

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
[ -n "$version" ] || version=$(git_say describe --tags --always --dirty)
[ -n "$revision" ] || revision=$(git_say rev-parse HEAD)
[ -n "$source" ] || source=$(git_say config --get remote.origin.url)
[ -n "$name" ] || name=gpu-device-plugin

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

	copy_exe "$plugin" /usr/bin/gpu-device-plugin
	ln -s gpu-device-plugin "$rootfs/usr/bin/nvidia-device-plugin"

	cp "$BUSYBOX" "$rootfs/bin/busybox"
	for applet in sh lsmod sleep; do
		ln -s busybox "$rootfs/bin/$applet"
	done
	cp "$here/entrypoint.sh" "$rootfs/bin/entrypoint.sh"
	chmod 0755 "$rootfs/bin/entrypoint.sh"

	if [ -n "$cfgmgr" ]; then
		copy_exe "$cfgmgr" /usr/bin/gdp-config-manager
		ln -s gdp-config-manager "$rootfs/usr/bin/config-manager"
	fi
	copy_libs_of "$plugin"
	[ -z "$cfgmgr" ] || copy_libs_of "$cfgmgr"
}

if [ -z "$out" ]; then
	make_rootfs
	exit 0
fi

need_packers
out=$(oci_out_dir "$out")
rootfs="$out/rootfs"
make_rootfs

tag=$(oci_tag "$version")
# NVIDIA's image environment: the NVIDIA container runtime gives the
# plugin every GPU and the driver's compute and utility libraries, and
# does not check CUDA requirements (the plugin has none).
oci_pack "$out" "$tag" "deploy/image/build.sh" \
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
    --config.label org.opencontainers.image.licenses=Apache-2.0
oci_archive "$out" "$tag" "$name"
oci_sizes "$out" "$tag" "$name" "$revision"
