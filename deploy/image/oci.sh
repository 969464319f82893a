# oci.sh: shell functions shared by the daemonless image builds
# (deploy/image/build.sh for the plugin, deploy/validation/build.sh for
# gpu-validate). Sourced, never run: each script sets $prog (its name in
# messages), $here (its folder) and $rootfs (the tree being written),
# then calls these.
#
# Both images are root file systems made by hand: a program, the shared
# libraries ldd says it needs and the dynamic loader, copied from this
# machine. umoci turns the tree into an OCI image layout and skopeo into a
# docker-archive tarball; the sizes are printed and kept in size.txt.
# Keeping this in one file means both images are packed the same way.
# shellcheck shell=sh disable=SC2154 # prog, here, rootfs: the caller's

die() {
	echo "$prog: $*" >&2
	exit 1
}

# git_say ARGS...: what git says about the tree $here is in, or
# "unknown" outside a checkout.
git_say() {
	git -C "$here" "$@" 2>/dev/null || echo unknown
}

# Folders the loader searches with no /etc/ld.so.cache (the images have
# none): Debian's glibc looks in the multiarch folders and then /lib and
# /usr/lib.
is_default_lib_dir() {
	case "$1" in
	/lib/x86_64-linux-gnu|/usr/lib/x86_64-linux-gnu|/lib64|/lib|/usr/lib)
		return 0 ;;
	esac
	return 1
}

# copy_lib FILE [NAME]: copies FILE (symlinks followed) into the tree
# under the same path, so the loader's default folders find it. A file
# in another folder, which only this machine's ld.so.cache or the
# program's RUNPATH finds (Debian's OpenBLAS is in
# /usr/lib/x86_64-linux-gnu/openblas-pthread/, and meson sets that
# RUNPATH from openblas.pc), goes into /lib/x86_64-linux-gnu under NAME,
# the name the program asks for: the image then works whatever RUNPATH
# the binary was linked with.
copy_lib() {
	dst="$rootfs$1"
	if ! is_default_lib_dir "$(dirname "$1")"; then
		dst="$rootfs/lib/x86_64-linux-gnu/${2:-$(basename "$1")}"
	fi
	mkdir -p "$(dirname "$dst")"
	cp -L "$1" "$dst"
	chmod 0755 "$dst"
}

# copy_libs_of EXE: the shared libraries EXE is linked against, and the
# loader, into the tree (a library already there is copied again, which
# is harmless).
copy_libs_of() {
	if ldd "$1" | grep -q 'not found'; then
		die "$1: a library is missing: $(ldd "$1" | grep 'not found')"
	fi
	# ldd lines: "libx.so.1 => /lib/.../libx.so.1 (0x...)" for
	# libraries, "/lib64/ld-linux-x86-64.so.2 (0x...)" for the loader;
	# the vDSO has no file. Printed as "PATH NAME".
	libs=$(ldd "$1" | awk '
	    $2 == "=>" && $3 ~ /^\// { print $3, $1; next }
	    $1 ~ /^\// { print $1, $1 }')
	[ -n "$libs" ] || die "ldd found no libraries for $1"
	printf '%s\n' "$libs" | while read -r path soname; do
		copy_lib "$path" "$(basename "$soname")"
	done
}

# copy_exe EXE NAME: EXE stripped into the tree as NAME (a path such as
# /usr/bin/gpu-validate).
copy_exe() {
	mkdir -p "$(dirname "$rootfs$2")"
	cp "$1" "$rootfs$2"
	strip --strip-unneeded "$rootfs$2"
	chmod 0755 "$rootfs$2"
}

# need_packers: umoci and skopeo are on the PATH.
need_packers() {
	command -v umoci >/dev/null 2>&1 ||
	    die "umoci: not found (apt-get install umoci)"
	command -v skopeo >/dev/null 2>&1 ||
	    die "skopeo: not found (apt-get install skopeo)"
}

# oci_tag VERSION: umoci takes a tag of letters, digits, '.', '_', '-'.
oci_tag() {
	printf '%s' "$1" | tr -c 'A-Za-z0-9._-' '_'
}

# oci_pack OUT TAG CREATED_BY UMOCI_CONFIG_ARGS...: $rootfs as the one
# layer of a new image in the OCI layout OUT/oci (tag TAG), configured
# with the umoci config arguments given.
oci_pack() {
	o=$1 t=$2 by=$3
	shift 3
	umoci init --layout "$o/oci"
	umoci new --image "$o/oci:$t"
	umoci unpack --image "$o/oci:$t" "$o/bundle" >/dev/null
	cp -a "$rootfs/." "$o/bundle/rootfs/"
	umoci repack --image "$o/oci:$t" --history.created_by "$by" \
	    "$o/bundle"
	rm -rf "$o/bundle"
	umoci config --image "$o/oci:$t" "$@" \
	    --history.created_by "$by: config"
	umoci gc --layout "$o/oci"
}

# oci_archive OUT TAG NAME: OUT/NAME.tar, a docker-archive tarball of the
# image tagged NAME:TAG, which docker load and ctr import accept. A
# local copy, so no signature policy applies (--insecure-policy).
oci_archive() {
	skopeo --insecure-policy copy -q "oci:$1/oci:$2" \
	    "docker-archive:$1/$3.tar:$3:$2"
}

# oci_sizes OUT TAG NAME REVISION: prints the sizes and writes them to
# OUT/size.txt as NAME=bytes lines. The compressed size is what a
# registry stores and a node pulls (the gzip layer, the config and the
# manifest); uncompressed is the file contents of the root file system.
oci_sizes() {
	blobs=0
	for f in "$1"/oci/blobs/sha256/*; do
		blobs=$((blobs + $(stat -c %s "$f")))
	done
	files=$(find "$rootfs" -type f -printf '%s\n' |
	    awk '{ s += $1 } END { print s + 0 }')
	archive=$(stat -c %s "$1/$3.tar")
	cat > "$1/size.txt" <<END
compressed=$blobs
uncompressed=$files
docker_archive=$archive
END
	echo "image $3:$2 (revision $4)"
	echo "  OCI layout:     $1/oci (tag $2)"
	echo "  docker-archive: $1/$3.tar ($archive bytes)"
	echo "  compressed:     $blobs bytes (gzip layer + config + manifest)"
	echo "  uncompressed:   $files bytes of files"
	find "$rootfs" -type f -printf '    %8s  /%P\n' | sort -k2
}

# oci_out_dir OUT: OUT made (it must not exist or be empty), printed as
# an absolute path.
oci_out_dir() {
	[ ! -e "$1" ] || [ -z "$(ls -A "$1")" ] ||
	    die "$1: exists and is not empty"
	mkdir -p "$1"
	(cd "$1" && pwd)
}
