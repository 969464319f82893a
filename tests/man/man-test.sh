#!/bin/sh
# man-test.sh: checks the man pages (issue 11) with mandoc, the real
# renderer: both pages lint clean at level warning, and every flag and
# environment variable that `gpu-device-plugin --help` prints appears in
# the rendered gpu-device-plugin(8), so the generated OPTIONS list cannot
# miss one; every config-file key of the settings table has an entry in
# gpu-device-plugin.yaml(5). Exits 77 (skipped) without mandoc (scripts/install-deps.sh
# installs it).
#
# Usage: man-test.sh BINARY BUILT-PAGE-8 PAGE-5
set -eu
bin=$1 page8=$2 page5=$3

if ! command -v mandoc >/dev/null 2>&1; then
	echo "man-test: mandoc not installed (scripts/install-deps.sh)" >&2
	exit 77
fi
fail=0
for p in "$page8" "$page5"; do
	if ! out=$(mandoc -T lint -W warning "$p" 2>&1) || [ -n "$out" ]; then
		echo "man-test: mandoc -T lint -W warning $p:" >&2
		echo "$out" >&2
		fail=1
	fi
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Rendered as a reader sees it, overstrike removed; words one a line
# (a word may carry "[", "=value" or a full stop around the name).
mandoc -T ascii "$page8" | col -b | tr -s ' \t(),;' '\n' >"$tmp/page"
"$bin" --help >"$tmp/help"
# Flags (--name, -h, -v) and variables (all capitals, an underscore or a
# known name) as --help prints them.
grep -o -- '--[a-z][a-z0-9-]*' "$tmp/help" | sort -u >"$tmp/flags"
grep -o -- '^  -[a-z],' "$tmp/help" | tr -d ' ,' >>"$tmp/flags"
grep -o '[A-Z][A-Z0-9]*_[A-Z0-9_]*' "$tmp/help" | sort -u >"$tmp/envs"
n=0
while read -r w; do
	n=$((n + 1))
	if ! grep -Eqx -- "\\[?$w(\\[?=.*)?\\.?" "$tmp/page"; then
		echo "man-test: $w is in --help but not in $page8" >&2
		fail=1
	fi
done <"$tmp/flags"
while read -r w; do
	n=$((n + 1))
	if ! grep -Eqx -- "$w(=.*)?\\.?" "$tmp/page"; then
		echo "man-test: variable $w is in --help but not in $page8" >&2
		fail=1
	fi
done <"$tmp/envs"
# Every config-file key the settings table names (the page's "Config
# file:" entries) has its entry in gpu-device-plugin.yaml(5).
keys=$(sed -n 's/^\.Cm \([a-zA-Z.]*\) \.$/\1/p' "$page8")
for k in $keys; do
	n=$((n + 1))
	if ! grep -qx "\.It Cm ${k##*.}" "$page5"; then
		echo "man-test: config key $k (--help's table) is not in $page5" >&2
		fail=1
	fi
done
if [ -z "$keys" ]; then
	echo "man-test: no config-file keys found in $page8" >&2
	fail=1
fi
if [ "$n" -lt 40 ]; then
	echo "man-test: only $n flags and variables read from --help" >&2
	fail=1
fi
[ "$fail" -eq 0 ] && echo "man-test: both pages lint clean; $n flags and" \
    "variables of --help and config keys in the pages"
exit "$fail"
