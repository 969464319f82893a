#!/bin/sh
# make-proc.sh: writes the procfs file the plugin reads for a fake MIG
# machine: OUTDIR/driver/nvidia-caps/mig-minors.
#
# Usage: make-proc.sh PROFILE OUTDIR
#
# Point the plugin's proc root (--proc-root, GDP_PROC_ROOT) at OUTDIR. The
# file lists, as the NVIDIA driver does, the minor numbers of the MIG
# capability device nodes /dev/nvidia-caps/nvidia-cap<m>:
#
#	config 1
#	monitor 2
#	gpu<g>/gi<i>/access <m>		m = 3 + 135 g + 9 i
#	gpu<g>/gi<i>/ci<c>/access <m>	m = 3 + 135 g + 9 i + 1 + c
#
# for every GPU minor number g of PROFILE (a fake NVML profile), GPU
# instance ids i 0..14 and compute instance ids c 0..7: each GPU has 15
# GPU instances of 1 + 8 entries, the layout the driver numbers them by.
# Like the driver's, the file is the same whatever MIG devices exist.
#
# The profile is read with awk, as make-sysfs.sh reads it: one
# "minor_number: N" line per GPU.
set -eu

if [ $# -ne 2 ]; then
	echo "usage: $0 PROFILE OUTDIR" >&2
	exit 2
fi
profile=$1
outdir=$2
[ -r "$profile" ] || { echo "$0: cannot read $profile" >&2; exit 1; }

dir=$outdir/driver/nvidia-caps
mkdir -p "$dir"
awk '
	/^[ \t]*(- )?minor_number:/ {
		v = $0
		sub(/^[^:]*:[ \t]*/, "", v)
		sub(/[ \t]+#.*$/, "", v)
		gsub(/["\047 \t\r]/, "", v)
		minors[n++] = v
	}
	END {
		print "config 1"
		print "monitor 2"
		for (k = 0; k < n; k++) {
			g = minors[k]
			for (i = 0; i <= 14; i++) {
				base = 3 + 135 * g + 9 * i
				printf "gpu%d/gi%d/access %d\n", g, i, base
				for (c = 0; c <= 7; c++)
					printf "gpu%d/gi%d/ci%d/access %d\n", g, i,
					    c, base + 1 + c
			}
		}
	}
' "$profile" >"$dir/mig-minors"
