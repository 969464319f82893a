#!/bin/sh
# install-deps.sh: install every package needed to build, test, fuzz and
# benchmark gpu-device-plugin on Debian 12, from Debian's archive only.
#
# Idempotent: packages already present are not fetched again, and when all
# of them are there the script touches nothing (no apt-get update). Needs
# root, or sudo. Called by scripts/demo.sh, scripts/test.sh and .ci/run.
set -eu

# What uses each group (besides the build itself):
#   clang, libclang-rt-14-dev  test.sh clang, asan and fuzz stages
#   libseccomp-dev             the daemon's system-call filter (src/sandbox)
#   llvm                       llvm-symbolizer, for readable ASan reports
#   cppcheck, clang-tidy       test.sh lint stage
#   binutils (build-essential) nm, readelf in tests/fakenvml/test_exports.sh
#   golang-*, protoc*          the kubelet stand-in and the grpc-go peer;
#                              the CDI library (gdp-cdi-validate, tests/cdi)
#   python3*                   plugin tests, grpc core interop, benchmarks
#   nghttp2-client, curl       h2load and curl in bench/
#   umoci, skopeo,             the container image, built without a daemon
#   busybox-static             (deploy/image/build.sh, tests/image)
PACKAGES="
build-essential pkg-config meson ninja-build clang libclang-rt-14-dev llvm
cppcheck clang-tidy
libnghttp2-dev libprotobuf-c-dev protobuf-c-compiler libyaml-dev
libseccomp-dev
libjansson-dev libcmocka-dev
golang-go golang-google-grpc-dev golang-google-protobuf-dev
golang-github-golang-protobuf-1-5-dev protobuf-compiler protoc-gen-go
protoc-gen-go-grpc
golang-github-container-orchestrated-devices-container-device-interface-dev
python3 python3-grpcio python3-grpc-tools python3-protobuf
nghttp2-client procps curl
umoci skopeo busybox-static
"

missing=""
for p in $PACKAGES; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$status" in
	*"install ok installed"*) ;;
	*) missing="$missing $p" ;;
	esac
done

if [ -z "$missing" ]; then
	exit 0
fi

echo "install-deps: installing:$missing" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO=sudo
	else
		echo "install-deps: need root (or sudo) to install:$missing" >&2
		exit 1
	fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086 # word splitting of the package list is wanted
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
