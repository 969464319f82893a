#!/bin/sh
# make-sysfs.sh: writes the sysfs files the plugin reads for a fake machine.
#
# Usage: make-sysfs.sh PROFILE OUTDIR
#
# For every GPU of PROFILE (a fake NVML profile, see README.md) it writes
# OUTDIR/bus/pci/devices/<bdf>/numa_node holding the GPU's numa_node (-1
# when the profile gives none, as the kernel shows without affinity).
# <bdf> is the sysfs name of the PCI device: lower case, with the domain
# cut to its last four hex digits, the way NVIDIA's plugin turns NVML's
# "0000A3A1:00:00.0" into "a3a1:00:00.0". Point the plugin's sysfs root at
# OUTDIR.
#
# The profile is read with awk, not a YAML parser, so it must keep the
# layout the shipped profiles use: the gpus list in block style, one
# "key: value" per line (a flow-style empty list, "gpus: []", is fine).
set -eu

if [ $# -ne 2 ]; then
	echo "usage: $0 PROFILE OUTDIR" >&2
	exit 2
fi
profile=$1
outdir=$2
[ -r "$profile" ] || { echo "$0: cannot read $profile" >&2; exit 1; }

# Prints "bdf numa" for each GPU.
gpus=$(awk '
	function value(line) {
		sub(/^[^:]*:[ \t]*/, "", line)	# the key
		sub(/[ \t]+#.*$/, "", line)	# a trailing comment
		gsub(/["\047 \t\r]/, "", line)	# quotes and blanks
		return line
	}
	function flush() {
		if (bus != "")
			print bus, (numa == "" ? -1 : numa)
		bus = ""; numa = ""
	}
	/^[ \t]*(#|$)/ { next }
	/^[^ \t-]/ {				# a top-level key
		flush()
		in_gpus = ($0 ~ /^gpus:/)
		item = -1
		next
	}
	!in_gpus { next }
	{
		line = $0
		indent = match(line, /[^ ]/) - 1
		if (substr(line, indent + 1, 2) == "- ") {
			if (item < 0)
				item = indent
			if (indent == item) {
				flush()
				line = substr(line, 1, indent) \
				    substr(line, indent + 3)
			}
		}
		if (line ~ /^[ \t]*pci_bus_id:/)
			bus = value(line)
		else if (line ~ /^[ \t]*numa_node:/)
			numa = value(line)
	}
	END { flush() }
' "$profile")

echo "$gpus" | while read -r bus numa; do
	[ -n "$bus" ] || continue
	bdf=$(printf '%s' "$bus" | cut -c5- | tr 'A-F' 'a-f')
	dir=$outdir/bus/pci/devices/$bdf
	mkdir -p "$dir"
	printf '%s\n' "$numa" >"$dir/numa_node"
done
