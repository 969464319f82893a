#!/bin/sh
# build.sh OUTFILE PROTO BUILDDIR [PKGDIR]
#
# Builds the grpc-go interop peer (gdp-go-peer) at OUTFILE; with PKGDIR,
# builds the Go main package in that folder instead (tests/kubelet uses this
# for its kubelet stand-in). The package is built at import path
# gdp/<base name of PKGDIR> and may import the stubs as "gdp/dpapi".
#
# Why it looks like this: the build machines have no network, and Debian ships
# grpc-go and protobuf-go as GOPATH source trees under /usr/share/gocode, so we
# build in GOPATH mode (no go.mod, nothing downloaded). The Go stubs are
# generated from PROTO into a private GOPATH under BUILDDIR (never into the
# source tree), the peer's main package is copied next to them, and `go build`
# runs there. Running it again only redoes what changed (go's build cache
# lives under BUILDDIR too). Quiet on success; on failure it says which step
# failed and exits non-zero.
set -eu

if [ $# -ne 3 ] && [ $# -ne 4 ]; then
	echo "usage: $0 OUTFILE PROTO BUILDDIR [PKGDIR]" >&2
	exit 2
fi

die() {
	echo "go/build.sh: $*" >&2
	exit 1
}

# Absolute paths: GOPATH must be absolute, and we cd around below.
abspath() {
	case "$1" in
	/*) printf '%s\n' "$1" ;;
	*) printf '%s/%s\n' "$(pwd)" "$1" ;;
	esac
}
out=$(abspath "$1")
proto=$(abspath "$2")
builddir=$(abspath "$3")
if [ $# -eq 4 ]; then
	[ -d "$4" ] || die "package folder not found: $4"
	srcdir=$(cd "$4" && pwd)
else
	srcdir=$(cd "$(dirname "$0")" && pwd)/peer
fi

[ -f "$proto" ] || die "proto file not found: $proto"
[ -d "$srcdir" ] || die "Go sources not found: $srcdir"
for tool in go protoc protoc-gen-go protoc-gen-go-grpc; do
	command -v "$tool" >/dev/null 2>&1 ||
		die "'$tool' not found (install golang-go, protobuf-compiler, protoc-gen-go, protoc-gen-go-grpc)"
done
[ -d /usr/share/gocode/src/google.golang.org/grpc ] ||
	die "grpc-go not found in /usr/share/gocode (install golang-google-grpc-dev)"

gopath=$builddir/gopath
# The proto's go_package is "gdp/dpapi", so the stubs live at that import path.
api=$gopath/src/gdp/dpapi
peer=$gopath/src/gdp/$(basename "$srcdir")
mkdir -p "$api" "$peer" "$builddir/gocache" "$(dirname "$out")" ||
	die "cannot create directories under $builddir"

# Offline GOPATH mode, with every setting that could come from the caller's
# environment pinned down (meson runs us with a minimal one, maybe no HOME).
GO111MODULE=off
GOPROXY=off
GOFLAGS=
GOENV=off
GOPATH=$gopath:/usr/share/gocode
GOCACHE=$builddir/gocache
CGO_ENABLED=0
export GO111MODULE GOPROXY GOFLAGS GOENV GOPATH GOCACHE CGO_ENABLED

# 1. Stubs. Generated into a scratch folder and moved in only when they
#    changed, so a rebuild with nothing new leaves them alone.
gen=$builddir/gen.tmp
rm -rf "$gen"
mkdir -p "$gen"
if ! protoc -I"$(dirname "$proto")" --go_out="$gen" --go-grpc_out="$gen" "$proto"; then
	rm -rf "$gen"
	die "protoc failed on $proto"
fi
for f in "$gen"/gdp/dpapi/*.go; do
	[ -f "$f" ] || die "protoc produced no Go files under gdp/dpapi (check go_package in $proto)"
	dst=$api/$(basename "$f")
	cmp -s "$f" "$dst" || cp "$f" "$dst"
done
rm -rf "$gen"

# 2. The main package (the peer's, or PKGDIR's): a fresh copy, so files removed from the source
#    tree do not linger here.
for f in "$peer"/*.go; do
	[ -f "$f" ] || continue
	[ -f "$srcdir/$(basename "$f")" ] || rm -f "$f"
done
for f in "$srcdir"/*.go; do
	dst=$peer/$(basename "$f")
	cmp -s "$f" "$dst" || cp "$f" "$dst"
done

# 3. Build.
cd "$peer"
go build -o "$out" . || die "go build failed (GOPATH=$GOPATH)"
