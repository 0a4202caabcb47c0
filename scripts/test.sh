#!/bin/sh
# test.sh - the whole test suite on a fresh machine: installs what is
# missing, builds (warnings are errors), runs ctest, runs it again in an
# AddressSanitizer + UndefinedBehaviorSanitizer build, runs it and every
# corpus capture under valgrind memcheck, and gives every libFuzzer harness
# a short bounded run.
#   MXLAG_VALGRIND=0       skip the valgrind memcheck pass (the longest part)
#   MXLAG_FUZZ_SECONDS=N   seconds per fuzz harness (default 20, 0 = skip)
# scripts/test.sh --quick is the day-to-day tier: the plain build and every
# test but the slow ones (ctest label `slow`: the real-server lab and the
# dense-traffic truth runs), about a minute on 2 cores.
set -eu
quick=0
case "${1:-}" in
--quick) quick=1 ;;
"") ;;
*) echo "usage: scripts/test.sh [--quick]" >&2; exit 2 ;;
esac
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)

scripts/setup.sh --test

echo "== build (RelWithDebInfo)"
# MXLAG_TESTS=ON on purpose: scripts/demo.sh configures the same build/
# without tests, and a cached OFF would leave ctest nothing to run
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMXLAG_TESTS=ON >/dev/null
cmake --build build -j"$jobs"
if [ "$quick" = 1 ]; then
	echo "== ctest (quick tier: no lab, no dense-traffic runs)"
	(cd build && MXLAG_LAB=0 ctest --no-tests=error --output-on-failure -j"$jobs" -LE slow)
	echo "== quick tests passed (the whole suite: scripts/test.sh)"
	exit 0
fi
echo "== ctest"
# the real-server lab (about 5 minutes) runs once, in the sanitizer pass below
(cd build && MXLAG_LAB=0 ctest --no-tests=error --output-on-failure -j"$jobs")

echo "== build (ASan + UBSan)"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DMXLAG_SANITIZE=ON -DMXLAG_TESTS=ON >/dev/null
cmake --build build-asan -j"$jobs"
echo "== ctest under ASan + UBSan"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --no-tests=error --output-on-failure -j"$jobs")

if [ "${MXLAG_VALGRIND:-1}" != 0 ]; then
	# the plain build again: ctest (no lab) and every corpus capture under
	# memcheck; fails on any memcheck error or definite/indirect leak
	echo "== ctest and the corpus under valgrind memcheck"
	scripts/valgrind.sh build
fi

secs=${MXLAG_FUZZ_SECONDS:-20}
if [ "$secs" -gt 0 ]; then
	echo "== fuzz smoke (${secs}s per harness, clang libFuzzer)"
	CC=clang cmake -S . -B build-fuzz -DMXLAG_FUZZ=ON -DMXLAG_TESTS=OFF >/dev/null
	cmake --build build-fuzz -j"$jobs"
	for h in build-fuzz/fuzz_*; do
		name=$(basename "$h" | sed 's/^fuzz_//')
		seeds=fuzz/seeds/$name
		work=$(mktemp -d)
		[ -d "$seeds" ] && cp -r "$seeds"/. "$work"/ 2>/dev/null || true
		echo "-- $name"
		log=$(mktemp)
		if ! "$h" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
			-print_final_stats=1 "$work" >"$log" 2>&1; then
			tail -n 60 "$log"
			echo "fuzz_$name: libFuzzer found a problem (see above)" >&2
			exit 1
		fi
		grep -E "^stat::(number_of_executed_units|peak_rss_mb)" "$log" || true
		rm -f "$log"
		rm -rf "$work"
	done
fi
echo "== all tests passed"
