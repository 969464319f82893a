#!/bin/sh
# entrypoint.sh: the image's entry point, doing what the GPU Operator's
# entrypoint script does before it starts NVIDIA's plugin, so the
# Operator's command (/bin/sh -c /bin/entrypoint.sh) and a plain
# DaemonSet both work with this image.
#
# 1. Under the GPU Operator, /run/nvidia/validations is mounted: wait for
#    the driver validation's driver-ready file and take its variables
#    (it is written as NAME=value lines). Without that folder (a plain
#    DaemonSet, a test) there is nothing to wait for.
# 2. Ask lsmod which optional kernel modules are loaded and turn on the
#    matching features, unless the deployment already set them.
# 3. Replace this shell with the plugin, passing every argument on, so
#    the plugin is the process that gets the kubelet's signals.
set -eu

validations=/run/nvidia/validations
if [ -d "$validations" ]; then
	until [ -f "$validations/driver-ready" ]; do
		echo "entrypoint: waiting for $validations/driver-ready" >&2
		sleep 5
	done
	set -a
	# shellcheck disable=SC1091 # written by the driver validation
	. "$validations/driver-ready"
	set +a
fi

# lsmod reads /proc/modules; without /proc the list is just empty.
# The first word of each line after the header is a module name.
modules=" $(lsmod 2>/dev/null | while read -r name _; do
	printf '%s ' "$name"
done || true)"

has_module() {
	case "$modules" in
	*" $1 "*) return 0 ;;
	esac
	return 1
}

if [ -z "${GDRCOPY_ENABLED:-}" ] && has_module gdrdrv; then
	export GDRCOPY_ENABLED=true
fi
if [ -z "${GDS_ENABLED:-}" ] && has_module nvidia_fs; then
	export GDS_ENABLED=true
fi
if [ -z "${MOFED_ENABLED:-}" ] &&
    { has_module nvidia_peermem || has_module nv_peer_mem; }; then
	export MOFED_ENABLED=true
fi

exec nvidia-device-plugin "$@"
