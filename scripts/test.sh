#!/bin/sh
# test.sh: install what is missing, build, and run every test.
#
# Stages, each in its own build directory:
#   gcc      the release build (hardening on): unit, interop, fuzz replay
#   clang    the same sources must build warning-free with clang too
#   asan     clang with ASan+UBSan (leaks included): the whole suite again,
#            with allocation fault injection compiled in (its loop runs)
#   fuzz     libFuzzer targets, each run for FUZZ_SECONDS (default 30)
#   lint     cppcheck and clang-tidy on src/ and tests/
# Prints "N passed, M failed" last; exits non-zero if anything failed.
# STAGES="gcc asan" limits the run to some stages. Each stage's logs go
# inside its build directory (DIR/setup.log, DIR/build.log, DIR/test.log;
# build/tidy.log, build-fuzz/fuzz-TARGET.log), so a run leaves the source
# tree as it found it.
set -u
cd "$(dirname "$0")/.." || exit 1
scripts/install-deps.sh || exit 1

STAGES=${STAGES:-"gcc clang asan fuzz lint"}
FUZZ_SECONDS=${FUZZ_SECONDS:-30}
passed=0
failed=0
failures=""
excerpts=$(mktemp "${TMPDIR:-/tmp}/gdp-test-failures.XXXXXX") || exit 1

note() { printf '\n=== %s ===\n' "$*"; }
pass() { passed=$((passed + ${2:-1})); printf 'ok - %s\n' "$1"; }
fail() {
	failed=$((failed + ${2:-1}))
	failures="$failures\n  $1"
	printf 'not ok - %s\n' "$1"
}

# setup DIR [meson options...]: configure (or reconfigure) a build dir.
setup() {
	dir=$1
	shift
	mkdir -p "$dir" || return 1
	if [ -f "$dir/build.ninja" ]; then
		meson setup --reconfigure "$dir" "$@" >"$dir/setup.log" 2>&1
	else
		meson setup "$dir" "$@" >"$dir/setup.log" 2>&1
	fi || { cat "$dir/setup.log"; return 1; }
}

# failed_excerpts NAME TESTLOG: from meson's full test log, each test that
# did not pass: its name and result, every "not ok" and "#" line, and the
# last 40 lines it printed. Printed again at the very end of the run, so
# that a CI system which keeps only the tail of the output keeps why.
failed_excerpts() {
	awk -v stage="$1" '
	function flush(   i, from) {
		if (name == "" || result ~ /^result: *(exit status 0|skipped)/)
			return
		printf "--- %s: %s (%s)\n", stage, name, result
		for (i = 1; i <= n; i++)
			if (line[i] ~ /^(not ok - |# )/)
				print "  " line[i]
		from = n > 40 ? n - 39 : 1
		print "  last lines:"
		for (i = from; i <= n; i++)
			print "  | " line[i]
	}
	/^=+ [0-9]+\/[0-9]+ =+$/ { flush(); name = ""; result = ""; n = 0; next }
	/^test: / { sub(/^test: */, ""); name = $0; next }
	/^result: / { result = $0; next }
	/^(start time|duration|command): / { next }
	{ line[++n] = $0 }
	END { flush() }' "$2"
}

# run_suite NAME DIR: build DIR and run its meson tests, counting them.
run_suite() {
	name=$1
	dir=$2
	if ! ninja -C "$dir" >"$dir/build.log" 2>&1; then
		cat "$dir/build.log"
		fail "$name: build"
		return
	fi
	meson test -C "$dir" --print-errorlogs --num-processes 1 \
	    >"$dir/test.log" 2>&1
	rc=$?
	grep -E '^ *[0-9]+/[0-9]+ ' "$dir/test.log"
	ok=$(sed -n 's/^Ok: *\([0-9]*\).*/\1/p' "$dir/test.log")
	bad=$(sed -n 's/^Fail: *\([0-9]*\).*/\1/p' "$dir/test.log")
	tmo=$(sed -n 's/^Timeout: *\([0-9]*\).*/\1/p' "$dir/test.log")
	passed=$((passed + ${ok:-0}))
	failed=$((failed + ${bad:-0} + ${tmo:-0}))
	if [ "$rc" -ne 0 ]; then
		failed_excerpts "$name" "$dir/meson-logs/testlog.txt" \
		    >>"$excerpts"
		failures="$failures\n  $name: see $dir/test.log"
		[ "${bad:-0}${tmo:-0}" = "00" ] && failed=$((failed + 1))
	fi
	return 0
}

for stage in $STAGES; do
	case $stage in
	gcc)
		note "gcc build, all tests"
		CC=gcc setup build && run_suite gcc build || fail "gcc: setup"
		;;
	clang)
		note "clang build (-Werror)"
		if CC=clang setup build-clang -Dinterop=false &&
		    ninja -C build-clang >build-clang/build.log 2>&1; then
			pass "clang: warning-free build"
		else
			cat build-clang/build.log 2>/dev/null
			fail "clang: build"
		fi
		;;
	asan)
		note "clang ASan+UBSan build, all tests"
		export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
		export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
		export GDP_SANITIZED=1
		# Fault injection compiled in: the allocation fault loop
		# runs here, where LeakSanitizer sees every leak it causes.
		CC=clang setup build-asan -Db_sanitize=address,undefined \
		    -Db_lundef=false -Dbuildtype=debug -Dfault_injection=true &&
		    run_suite asan build-asan || fail "asan: setup"
		unset ASAN_OPTIONS UBSAN_OPTIONS GDP_SANITIZED
		;;
	fuzz)
		note "libFuzzer, ${FUZZ_SECONDS}s per target"
		if ! CC=clang setup build-fuzz -Dfuzz=true -Dinterop=false \
		    -Db_sanitize=address,undefined -Db_lundef=false ||
		    ! ninja -C build-fuzz >build-fuzz/build.log 2>&1; then
			cat build-fuzz/build.log 2>/dev/null
			fail "fuzz: build"
			continue
		fi
		for t in server codec wire config kube_http kube_event kubeconfig; do
			work=build-fuzz/corpus-$t
			mkdir -p "$work"
			if ./build-fuzz/tests/fuzz/fuzz_$t \
			    -max_total_time="$FUZZ_SECONDS" -timeout=10 \
			    -artifact_prefix=build-fuzz/ "$work" \
			    "tests/fuzz/corpus/$t" >build-fuzz/fuzz-$t.log 2>&1
			then
				pass "fuzz_$t: $(grep -o 'Done [0-9]* runs' \
				    build-fuzz/fuzz-$t.log)"
			else
				tail -n 40 build-fuzz/fuzz-$t.log
				fail "fuzz_$t (crash input in build-fuzz/)"
			fi
		done
		;;
	lint)
		note "cppcheck and clang-tidy"
		if cppcheck --quiet --error-exitcode=1 --inline-suppr \
		    --enable=warning,performance,portability \
		    --suppress=missingIncludeSystem -I src \
		    --include=/usr/include/$(gcc -print-multiarch)/sys/queue.h \
		    src tests/unit tests/interop tests/fuzz tests/fakenvml \
		    tests/fakecuda tests/mps bench \
		    2>&1; then
			pass "cppcheck"
		else
			fail "cppcheck"
		fi
		[ -f build/compile_commands.json ] || CC=gcc setup build
		# find, not git ls-files: a tarball of the tree has no .git.
		files=$(find src tests bench -name '*.c' | sort)
		if clang-tidy --quiet -p build --extra-arg=-U_FORTIFY_SOURCE \
		    $files >build/tidy.log 2>&1 &&
		    ! grep -qE 'warning:|error:' build/tidy.log; then
			pass "clang-tidy"
		else
			grep -E -A3 'warning:|error:' build/tidy.log | head -n 60
			fail "clang-tidy"
		fi
		;;
	*)
		echo "test.sh: unknown stage '$stage'" >&2
		exit 2
		;;
	esac
done

if [ -s "$excerpts" ]; then
	printf '\n=== what the failed tests printed ===\n'
	cat "$excerpts"
fi
rm -f "$excerpts"
if [ -n "$failures" ]; then
	printf '\nFailures:%b\n' "$failures"
fi
printf '\n%d passed, %d failed\n' "$passed" "$failed"
[ "$failed" -eq 0 ]
