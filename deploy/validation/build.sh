#!/bin/sh
# build.sh: builds the validation Job's container image (gpu-validate,
# deploy/validation/gpu-validate-job.yaml) without a container daemon.
#
#   build.sh --validate BIN [--mnist DIR] --out DIR [--version V]
#            [--revision R] [--source URL] [--name NAME]
#   build.sh --validate BIN [--mnist DIR] --rootfs DIR
#
# The image is a root file system made by hand, as the plugin's is
# (deploy/image/build.sh; the shared steps are deploy/image/oci.sh):
# gpu-validate, the shared libraries it is linked against (OpenBLAS and
# its Fortran runtime, libm, libc) and the loader, copied from this
# machine, and the four MNIST idx files in /data/mnist, so the Job needs
# no internet. No shell and no busybox: the entry point is the program
# itself, `gpu-validate --data_dir /data/mnist`, and a Job's args
# (`--max_steps 500`) come after it. libcuda.so.1 is not in the image:
# the NVIDIA container toolkit mounts the node's driver library into a
# container that got a GPU (NVIDIA_DRIVER_CAPABILITIES=compute), in
# /usr/lib/x86_64-linux-gnu, which the loader searches; with none,
# gpu-validate says so and trains on the CPU.
#
# --mnist defaults to /opt/gdp-tools/mnist (scripts/install-deps.sh puts
# it there). --version defaults to the project's version in meson.build,
# the tag the Job manifest names; --name to gpu-validate. With --rootfs
# only the tree is written (deploy/validation/Containerfile uses this);
# with --out, DIR/oci (OCI image layout), DIR/NAME.tar (docker-archive
# for docker load and ctr import) and DIR/size.txt, and the sizes printed.
#
# Needs: ldd, strip (binutils), umoci, skopeo. Run as root (umoci keeps
# file owners as root only then).
set -eu
umask 022

here=$(cd "$(dirname "$0")" && pwd)
validate="" mnist=/opt/gdp-tools/mnist out="" rootfs=""
version="" revision="" source="" name=gpu-validate
DATA=/data/mnist
MNIST_FILES="train-images-idx3-ubyte train-labels-idx1-ubyte
t10k-images-idx3-ubyte t10k-labels-idx1-ubyte"

prog=build.sh
# shellcheck source=deploy/image/oci.sh
. "$here/../image/oci.sh"

while [ $# -gt 0 ]; do
	[ $# -ge 2 ] || die "$1 needs a value (see the comment at the top)"
	case "$1" in
	--validate) validate=$2 ;;
	--mnist) mnist=$2 ;;
	--out) out=$2 ;;
	--rootfs) rootfs=$2 ;;
	--version) version=$2 ;;
	--revision) revision=$2 ;;
	--source) source=$2 ;;
	--name) name=$2 ;;
	*) die "unknown argument '$1' (see the comment at the top)" ;;
	esac
	shift 2
done

[ -n "$validate" ] || die "--validate BIN is required"
[ -x "$validate" ] || die "$validate: not an executable file"
[ -n "$out" ] || [ -n "$rootfs" ] || die "give --out DIR or --rootfs DIR"
for f in $MNIST_FILES; do
	[ -f "$mnist/$f" ] ||
	    die "$mnist/$f: missing (scripts/install-deps.sh installs MNIST)"
done

# meson.build's "version : 'X'" line: the version the manifest's tag is.
project_version() {
	sed -n "s/^ *version *: *'\([^']*\)'.*/\1/p" "$here/../../meson.build" |
	    head -n 1
}
[ -n "$version" ] || version=$(project_version)
[ -n "$version" ] || version=$(git_say describe --tags --always --dirty)
[ -n "$revision" ] || revision=$(git_say rev-parse HEAD)
[ -n "$source" ] || source=$(git_say config --get remote.origin.url)

# make_rootfs: writes the whole tree into $rootfs (which must not exist
# or be empty).
make_rootfs() {
	if [ -e "$rootfs" ] && [ -n "$(ls -A "$rootfs")" ]; then
		die "$rootfs: exists and is not empty"
	fi
	# dev, proc, sys: the runtime's mount points; tmp for anyone;
	# usr/lib/x86_64-linux-gnu: where the toolkit mounts libcuda.so.1.
	for d in dev proc sys etc tmp usr/lib/x86_64-linux-gnu "$DATA"; do
		mkdir -p "$rootfs/$d"
	done
	chmod 1777 "$rootfs/tmp"
	copy_exe "$validate" /usr/bin/gpu-validate
	copy_libs_of "$validate"
	for f in $MNIST_FILES; do
		cp "$mnist/$f" "$rootfs$DATA/$f"
		chmod 0644 "$rootfs$DATA/$f"
	done
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
# NVIDIA_DRIVER_CAPABILITIES: compute mounts libcuda.so.1, utility
# nvidia-smi for whoever debugs the node. NVIDIA_VISIBLE_DEVICES is left
# to the device plugin's Allocate answer: an image that said "all" would
# get every GPU under the NVIDIA runtime even without a GPU limit.
oci_pack "$out" "$tag" "deploy/validation/build.sh" \
    --config.user 0:0 \
    --config.workingdir / \
    --config.env PATH=/usr/bin \
    --config.env NVIDIA_DRIVER_CAPABILITIES=compute,utility \
    --config.entrypoint /usr/bin/gpu-validate \
    --config.entrypoint --data_dir \
    --config.entrypoint "$DATA" \
    --clear config.cmd \
    --config.label org.opencontainers.image.title="$name" \
    --config.label org.opencontainers.image.version="$version" \
    --config.label org.opencontainers.image.revision="$revision" \
    --config.label org.opencontainers.image.source="$source" \
    --config.label org.opencontainers.image.licenses=Apache-2.0
oci_archive "$out" "$tag" "$name"
oci_sizes "$out" "$tag" "$name" "$revision"
