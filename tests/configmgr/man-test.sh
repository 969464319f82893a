#!/bin/sh
# man-test.sh: gdp-config-manager(8) lints clean with mandoc, and names
# every flag and environment variable that `gdp-config-manager --help`
# prints, so the hand-kept page cannot miss one. Exits 77 (skipped)
# without mandoc.
#
# Usage: man-test.sh BINARY PAGE
set -eu
bin=$1 page=$2
command -v mandoc >/dev/null 2>&1 || { echo "no mandoc" >&2; exit 77; }
fail=0
if ! out=$(mandoc -T lint -W warning "$page" 2>&1) || [ -n "$out" ]; then
	echo "man-test: mandoc -T lint: $out" >&2
	fail=1
fi
text=$(mandoc -T ascii "$page" | col -b)
words=$("$bin" --help | awk '$1 ~ /^--/ { print $1; print $2 }')
[ -n "$words" ] || { echo "man-test: --help printed no flags" >&2; exit 1; }
for w in $words; do
	if ! printf '%s\n' "$text" | grep -Fq -- "$w"; then
		echo "man-test: $w is in --help but not in $page" >&2
		fail=1
	fi
done
[ "$fail" -eq 0 ] && echo "ok - gdp-config-manager(8): lint clean, every flag and variable"
exit "$fail"
