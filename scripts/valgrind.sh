#!/bin/sh
# valgrind.sh - the ctest suite and `mxlag analyze` on every capture of
# ../shared/corpus and ../shared/captures under valgrind memcheck.  Fails
# (exit 1) on any memcheck error (invalid read/write, uninitialised value,
# bad free, ...) or definitely/indirectly lost block in any traced process,
# and on any test that fails or capture that crashes under valgrind.
#
#   scripts/valgrind.sh [BUILD_DIR]   default build-vg; configured
#                                     (RelWithDebInfo, no sanitizers) and
#                                     built when needed
#   MXLAG_VG_JOBS=N        valgrind processes at a time (default nproc)
#   MXLAG_VG_TESTS=REGEX   only the ctest tests whose name matches (grep -E);
#                          "live-capture" is the mxlag capture job (root only)
#   MXLAG_VG_TESTS=none    no ctest tests, only the captures
#   MXLAG_VG_CORPUS=0      no captures, only the ctest tests
#   MXLAG_VG_TIMEOUT_FACTOR=N  ctest TIMEOUT x N per test (default 3)
#   MXLAG_VG_OPTS="..."    more valgrind options (e.g. --track-origins=yes)
#   MXLAG_VG_KEEP=1        keep the work directory with every valgrind log
#
# Every traced process writes its own log (--log-file=...%p).  A unit test
# (tests/unit, and the fuzz replays) runs whole under memcheck: Criterion
# re-executes the test binary for each test (so --trace-children=yes).  An
# end-to-end test (tests/e2e) runs natively, and every program of the build
# it starts (mxlag, mxlag-gen, mxlag-truthcheck: e2e_bin() finds them in
# $MXLAG_VG_BIN) is a wrapper that runs it under memcheck: the test's own
# SQL checks, Criterion and sh cost no memcheck time.  A few slow cases are
# left out under memcheck, each with its reason below (excluded_cases).
# System tools with no mxlag code in them (chromium,
# tshark, sqlite3, date, gzip, prometheus, curl, ...) run natively (--trace-children-skip: coreutils'
# date leaks on exit, and --error-exitcode would make it fail the script that
# called it).
# Criterion's runner ignores a worker's exit status, so the verdict comes
# from the "ERROR SUMMARY" line of every log, not from exit codes alone.
# Tests see MXLAG_UNDER_VALGRIND=1: a peak-RSS bound is valgrind's there.
set -eu
cd "$(dirname "$0")/.."
src=$(pwd)

# --- one job, run by xargs below: "t NAME" (a ctest test), "l lo" (the live
# capture) or "c FILE" (a capture) -----------------------------------------------
if [ "${1:-}" = "--job" ]; then
	kind=$2
	arg=$3
	id=$4
	log=$VG_WORK/logs/$id
	mkdir -p "$log"
	# (a test's programs run as nobody write their logs here too)
	chmod 1777 "$log"
	start=$(date +%s)
	set +e
	if [ "$kind" = t ]; then
		t=$(sed -n "s/^$arg	\([0-9]*\).*/\1/p" "$VG_WORK/tests.lst")
		t=$((${t:-600} * ${MXLAG_VG_TIMEOUT_FACTOR:-3}))
		VG_FILTER=$(cat "$VG_WORK/t/$arg.filter" 2>/dev/null || true)
		export VG_FILTER
		if [ -f "$src/tests/e2e/$arg.c" ]; then
			# an end-to-end test: it runs natively, the programs it
			# runs (e2e_bin: mxlag, mxlag-gen, ...) under memcheck
			MXLAG_VG_BIN=$VG_WORK/bin VG_LOG=$log sh "$VG_WORK/t/$arg.sh" \
				timeout -k 30 "$t" >"$log/out.txt" 2>&1
		else
			# shellcheck disable=SC2086
			sh "$VG_WORK/t/$arg.sh" timeout -k 30 "$t" \
				valgrind $VG_OPTS --log-file="$log/%p.log" >"$log/out.txt" 2>&1
		fi
		rc=$?
		ok=0
		[ "$rc" -eq 0 ] && ok=1
	elif [ "$kind" = l ]; then
		# mxlag capture on lo for 15 s (privileges dropped after opening, as
		# in test_live) while a DNS query goes to 127.0.0.1:53 every 0.5 s;
		# with curl, --metrics too, scraped every 0.5 s (MXLAG_VG_METRICS_PORT,
		# default 19465: the HTTP thread under memcheck)
		db=$(mktemp -d "$VG_WORK/db.XXXXXX")
		chmod 777 "$db"
		mport=${MXLAG_VG_METRICS_PORT:-19465}
		metrics=""
		command -v curl >/dev/null && metrics="--metrics 127.0.0.1:$mport"
		# shellcheck disable=SC2086
		timeout -k 30 300 valgrind $VG_OPTS --log-file="$log/%p.log" \
			"$VG_BUILD/mxlag" capture -i lo --quiet --duration 15 --user nobody \
			--db "$db/l.db" $metrics >"$log/out.txt" 2>&1 &
		vpid=$!
		i=0
		scrapes=0
		while [ $i -lt 28 ] && kill -0 $vpid 2>/dev/null; do
			bash -c 'printf "\x42\x42\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x07example\x03com\x00\x00\x01\x00\x01" >/dev/udp/127.0.0.1/53' 2>/dev/null
			if [ -n "$metrics" ] &&
				curl -sf -m 5 "http://127.0.0.1:$mport/metrics" >/dev/null 2>&1; then
				scrapes=$((scrapes + 1))
			fi
			sleep 0.5
			i=$((i + 1))
		done
		wait $vpid
		rc=$?
		q=$(sqlite3 "$db/l.db" "select count(*) from dns_queries" 2>&1 || true)
		echo "live capture: exit $rc, $q DNS queries stored, $scrapes scrapes" >>"$log/out.txt"
		arg="live capture on lo ($q DNS queries stored, $scrapes /metrics scrapes)"
		rm -rf "$db"
		ok=0
		[ "$rc" -eq 0 ] && ok=1
	else
		db=$(mktemp -d "$VG_WORK/db.XXXXXX")
		# shellcheck disable=SC2086
		timeout -k 30 900 valgrind $VG_OPTS --log-file="$log/%p.log" \
			"$VG_BUILD/mxlag" analyze --quiet --db "$db/c.db" "$arg" >"$log/out.txt" 2>&1
		rc=$?
		rm -rf "$db"
		# 0: analyzed; 1: nothing readable in it (one clear message)
		ok=0
		[ "$rc" -eq 0 ] || [ "$rc" -eq 1 ] && ok=1
	fi
	set -e
	secs=$(($(date +%s) - start))
	bad=$(grep -l "ERROR SUMMARY: [1-9]" "$log"/*.log 2>/dev/null || true)
	if [ "$ok" -eq 1 ] && [ -z "$bad" ]; then
		echo "ok   ${secs}s $arg" | tee "$VG_WORK/res/$id"
		exit 0
	fi
	{
		echo "FAIL ${secs}s $arg (exit $rc)"
		for f in $bad; do
			echo "---- memcheck: $f"
			sed -n '/== Command:/p; /ERROR SUMMARY/p' "$f" | head -n 3
			# the errors themselves (first 200 lines of them)
			grep -v "^==[0-9]*== *$" "$f" | sed -n '/^==[0-9]*== Parent PID/,$p' | sed 1d | head -n 200
		done
		if [ "$ok" -ne 1 ]; then
			echo "---- output (last 60 lines)"
			tail -n 60 "$log/out.txt"
		fi
	} >"$VG_WORK/res/$id"
	echo "FAIL ${secs}s $arg (exit $rc$([ -n "$bad" ] && echo ', memcheck errors'))"
	exit 0
fi

b=${1:-build-vg}
jobs=${MXLAG_VG_JOBS:-$(nproc 2>/dev/null || echo 2)}
shared=${MXLAG_SHARED:-$(cd .. && pwd)/shared}
command -v valgrind >/dev/null || {
	echo "valgrind.sh: valgrind is not installed (scripts/setup.sh --test)" >&2
	exit 1
}

if [ ! -f "$b/CMakeCache.txt" ]; then
	cmake -S . -B "$b" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMXLAG_TESTS=ON >/dev/null
elif grep -q "^MXLAG_TESTS:BOOL=OFF" "$b/CMakeCache.txt"; then
	# configured by scripts/demo.sh, which builds no tests
	cmake -S . -B "$b" -DMXLAG_TESTS=ON >/dev/null
fi
if grep -Eq "^MXLAG_(SANITIZE|FUZZ):BOOL=ON" "$b/CMakeCache.txt"; then
	echo "valgrind.sh: $b is a sanitizer/fuzzer build; valgrind needs a plain one" >&2
	exit 1
fi
cmake --build "$b" -j"$jobs" >/dev/null
VG_BUILD=$(cd "$b" && pwd)

VG_WORK=$(mktemp -d "${TMPDIR:-/tmp}/mxlag-vg.XXXXXX")
mkdir -p "$VG_WORK/t" "$VG_WORK/res" "$VG_WORK/logs"
# shellcheck disable=SC2064
[ "${MXLAG_VG_KEEP:-0}" = 1 ] || trap "rm -rf '$VG_WORK'" EXIT

supp=""
[ -f scripts/valgrind.supp ] && supp="--suppressions=$src/scripts/valgrind.supp"
VG_OPTS="--tool=memcheck --leak-check=full --show-leak-kinds=definite,indirect
	--errors-for-leak-kinds=definite,indirect --error-exitcode=99
	--trace-children=yes --num-callers=40 --gen-suppressions=all $supp
	--trace-children-skip=*/chromium*,*/chrome*,*/tshark,*/dumpcap,*/tcpdump,*/sqlite3,*/ip,*/diff,*/cmp,*/cp,*/cat,*/head,*/tail,*/sleep,*/rm,*/mkdir,*/grep,*/sed,*/ls,*/date,*/mktemp,*/od,*/tr,*/base64,*/uname,*/wc,*/sort,*/cut,*/awk,*/mawk,*/basename,*/dirname,*/touch,*/chmod,*/mv,*/tee,*/find,*/xargs,*/shellcheck,*/systemd-analyze,*/cmake,*/gzip,*/zstd,*/zcat,*/prometheus,*/promtool,*/curl
	${MXLAG_VG_OPTS:-}"
export VG_WORK VG_BUILD VG_OPTS

# --- the memcheck wrappers of the build's programs, for the end-to-end tests:
# the test process itself (Criterion, its SQL checks, sh) runs natively; every
# mxlag, mxlag-gen, mxlag-truthcheck it starts runs under memcheck, its log in
# the job's directory ($VG_LOG, set per job)
mkdir -p "$VG_WORK/bin"
# tests run some programs as nobody: the wrappers readable by all
chmod 755 "$VG_WORK" "$VG_WORK/bin"
for p in "$VG_BUILD"/*; do
	if [ ! -f "$p" ] || [ ! -x "$p" ]; then continue; fi
	# runstat (bench/runstat.c) measures the peak RSS of the program it runs:
	# it stays native, the mxlag it starts is the wrapper
	case ${p##*/} in test_* | replay_* | runstat | *.so | *.a) continue ;; esac
	cat >"$VG_WORK/bin/${p##*/}" <<EOW
#!/bin/sh
# shellcheck disable=SC2086
exec valgrind \$VG_OPTS --log-file="\$VG_LOG/%p.log" '$p' "\$@"
EOW
	chmod +x "$VG_WORK/bin/${p##*/}"
done

# --- the ctest tests: each one's command, environment, directory, timeout -------
# (from ctest's JSON, turned into one small sh script per test by cmake -P)
(cd "$b" && ctest --show-only=json-v1) >"$VG_WORK/tests.json"
cat >"$VG_WORK/tests.cmake" <<'EOF'
file(READ "${WORK}/tests.json" j)
string(JSON n LENGTH "${j}" tests)
if(n EQUAL 0)
  message(FATAL_ERROR "valgrind.sh: ctest lists no tests in this build (configured with MXLAG_TESTS=OFF?)")
endif()
math(EXPR last "${n} - 1")
set(lst "")
foreach(i RANGE ${last})
  string(JSON name GET "${j}" tests ${i} name)
  string(JSON nc LENGTH "${j}" tests ${i} command)
  math(EXPR lc "${nc} - 1")
  set(cmd "")
  foreach(k RANGE ${lc})
    string(JSON w GET "${j}" tests ${i} command ${k})
    string(REPLACE "'" "'\\''" w "${w}")
    string(APPEND cmd " '${w}'")
  endforeach()
  set(envs "")
  set(wd ".")
  set(timeout 600)
  string(JSON np ERROR_VARIABLE err LENGTH "${j}" tests ${i} properties)
  if(NOT err)
    math(EXPR lp "${np} - 1")
    foreach(k RANGE ${lp})
      string(JSON pn GET "${j}" tests ${i} properties ${k} name)
      if(pn STREQUAL "ENVIRONMENT")
        string(JSON ne LENGTH "${j}" tests ${i} properties ${k} value)
        math(EXPR le "${ne} - 1")
        foreach(e RANGE ${le})
          string(JSON w GET "${j}" tests ${i} properties ${k} value ${e})
          string(REPLACE "'" "'\\''" w "${w}")
          string(APPEND envs " '${w}'")
        endforeach()
      elseif(pn STREQUAL "WORKING_DIRECTORY")
        string(JSON wd GET "${j}" tests ${i} properties ${k} value)
      elseif(pn STREQUAL "TIMEOUT")
        string(JSON timeout GET "${j}" tests ${i} properties ${k} value)
      endif()
    endforeach()
  endif()
  file(WRITE "${WORK}/t/${name}.sh"
       "cd '${wd}' || exit 125\nexec env${envs} MXLAG_LAB=0 MXLAG_UNDER_VALGRIND=1 \"$@\"${cmd} \${VG_FILTER:+\"--filter=\$VG_FILTER\"}\n")
  string(APPEND lst "${name}\t${timeout}\n")
endforeach()
file(WRITE "${WORK}/tests.lst" "${lst}")
EOF
cmake -DWORK="$VG_WORK" -P "$VG_WORK/tests.cmake"

# Tests not run under valgrind, and why.
skip_reason() {
	case $1 in
	test_lab) echo "real-server lab: mail/DNS servers in containers, ~5 min natively; the servers, not mxlag, are what it mostly runs (MXLAG_LAB=0 in ctest too)" ;;
	test_corpus) echo "mxlag analyze on every corpus capture: done directly below, one valgrind per capture, in parallel" ;;
	test_dense) echo "three ten-minute captures of dense traffic (~40 s natively, hours under memcheck); mxlag-gen traffic runs under memcheck in test_gen, mxlag-truthcheck and mxlag analyze of its output in test_dense_checker" ;;
	*) return 1 ;;
	esac
}
# Criterion test cases left out (by a --filter), one "TEST<tab>CASE<tab>WHY" a line.
excluded_cases="test_live	live/duration_stops_and_query_is_stored	sends its DNS query 1 s after starting mxlag capture, which under valgrind is still starting up (2-3 s), so the query is never seen; the live path runs in the 'live capture' job instead
test_live	live/sigterm_flushes_and_exits_zero	SIGTERMs mxlag capture 1.3 s after starting it, under valgrind before mxlag has installed its handlers; the live path runs in the 'live capture' job instead
test_hostile	hostile/syn_flood_is_bounded_by_the_flow_cap	asserts a peak RSS under 64 MiB (bench/runstat), which under memcheck is valgrind's: shadow memory, redzones, the 20 MB freed-block queue (137-198 MiB seen in a Debug build)
test_hostile	hostile/connection_flood_is_bounded_by_the_session_cap	asserts a peak RSS under 64 MiB (bench/runstat), which under memcheck is valgrind's own, as above
test_faults	faults/sigkill_leaves_a_consistent_database	SIGKILLs mxlag analyze: a killed process ends without memcheck's verdict (no exit, no leak check), and what the case checks, the database after the kill, is SQLite's work (90 s under memcheck)
test_span	span/every_scenario_is_unchanged_by_span_duplicates	every scenario twice, plain and with mirror-port copies (300 s under memcheck): the scenarios' analysis runs under memcheck in test_scenarios, the duplicate filter in test_dedup and in span/workload here
test_span	span/every_link_type	every link type twice, plain and with mirror-port copies (150 s under memcheck): each link type's analysis runs under memcheck in scenarios/every_link_type
test_layout	layout/windowed_reports_return_the_rows_of_the_old_layout	every report in many windows on the migrated and the old database (350 s under memcheck): each report and format runs under memcheck in test_golden, the migration in this test's setup
test_layout	layout/migrated_database_reports_like_a_fresh_analysis	every report twice, after the migration and after a fresh analysis (150 s under memcheck): as above
test_gen	traffic/memory_flat_with_length	generates 66 000 sessions in the test process (about 3 minutes under memcheck) to compare the queue and peak RSS of a short and a long run; the generator's code runs under memcheck in every other traffic case"

: >"$VG_WORK/jobs"
# the slowest tests first, so that both job slots stay busy to the end
while IFS='	' read -r name _; do
	case $name in
	test_faults) echo "0 $name" ;;
	test_hostile) echo "1 $name" ;;
	test_scenarios) echo "2 $name" ;;
	test_golden) echo "3 $name" ;;
	test_dns | test_report) echo "4 $name" ;;
	*) echo "5 $name" ;;
	esac
done <"$VG_WORK/tests.lst" | sort -k1,1n -k2,2 >"$VG_WORK/order"
while read -r _ name; do
	if [ -n "${MXLAG_VG_TESTS:-}" ] && ! echo "$name" | grep -Eq -- "^(${MXLAG_VG_TESTS})\$"; then
		continue
	fi
	if why=$(skip_reason "$name"); then
		echo "skip $name: $why"
		continue
	fi
	globs=""
	while IFS='	' read -r t case why; do
		[ "$t" = "$name" ] || continue
		echo "skip $name $case: $why"
		globs="${globs:+$globs|}$case"
	done <<EOF
$excluded_cases
EOF
	[ -z "$globs" ] || echo "!($globs)" >"$VG_WORK/t/$name.filter"
	echo "t $name t-$name" >>"$VG_WORK/jobs"
done <"$VG_WORK/order"
ntests=$(wc -l <"$VG_WORK/jobs")
if [ -z "${MXLAG_VG_TESTS:-}" ] || echo live-capture | grep -Eq -- "^(${MXLAG_VG_TESTS})\$"; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "skip live capture: mxlag capture -i lo needs root (CAP_NET_RAW)"
	elif ! command -v bash >/dev/null; then
		echo "skip live capture: needs bash (/dev/udp) to send the DNS queries"
	else
		echo "l lo live-capture" >>"$VG_WORK/jobs"
	fi
fi
n=0
ncaps=0
if [ "${MXLAG_VG_CORPUS:-1}" != 0 ] && [ ! -d "$shared/corpus" ]; then
	echo "skip captures: $shared/corpus not present (as test_corpus skips)"
elif [ "${MXLAG_VG_CORPUS:-1}" != 0 ]; then
	# the files test_corpus walks: *.pcap, *.pcapng, *.cap (no spaces in their paths)
	find "$shared/corpus" "$shared/captures" -type f \
		\( -name '*.pcap' -o -name '*.pcapng' -o -name '*.cap' \) | sort >"$VG_WORK/caps"
	while read -r f; do
		n=$((n + 1))
		echo "c $f c-$n" >>"$VG_WORK/jobs"
	done <"$VG_WORK/caps"
	ncaps=$n
fi

echo "== valgrind memcheck: $ntests ctest tests, $(grep -c "^l " "$VG_WORK/jobs" || true) live capture, $ncaps captures, $jobs at a time ($b)"
start=$(date +%s)
xargs -r -P "$jobs" -L 1 sh "$src/scripts/valgrind.sh" --job <"$VG_WORK/jobs"
secs=$(($(date +%s) - start))

fails=$(grep -l "^FAIL" "$VG_WORK"/res/* 2>/dev/null || true)
nres=$(find "$VG_WORK/res" -type f | wc -l)
nall=$(wc -l <"$VG_WORK/jobs")
if [ -n "$fails" ] || [ "$nres" -ne "$nall" ]; then
	for f in $fails; do
		echo "==== $(head -n 1 "$f")"
		sed 1d "$f"
	done
	echo "valgrind.sh: $(echo "$fails" | grep -c .) of $nall jobs failed ($nres finished) in ${secs}s" >&2
	exit 1
fi
echo "== valgrind memcheck: all $nall jobs clean in ${secs}s"
