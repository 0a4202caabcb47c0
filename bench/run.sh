#!/bin/sh
# bench/run.sh - speed and memory of mxlag on the generated mail-host
# workload, beside a bare pcap_next_ex() loop on the same file, in one run.
#
#   bench/run.sh [--sessions N] [--rounds N] [--x4] [--tools] [--no-truth]
#     --sessions N  workload size (default 100000 sessions, ~2.7 M packets)
#     --rounds N    times bare, analyze, bare, full, bare run in turn
#                   (default 5): each figure is the median of its rounds and
#                   each ratio to the bare loop the median of the rounds' own
#                   ratios, a run's ratio taken to the mean of the bare loops
#                   right before and after it, so a spell in which the VM
#                   runs slower moves a whole round, not one side of a ratio
#     --x4          also a 4x larger workload
#     --tools       also time ndpiReader and tshark on the same file if installed
#     --no-truth    leave out the diagnosis check on generated traffic with
#                   ground truth (below)
#
# Prints, per file: wall time, packets/s and peak RSS for
#   bare      bare pcap_next_ex loop (bench/bare_loop.c)
#   capture   the capture layer alone: decode, flows, reassembly (bench/capbench.c)
#   analyze   mxlag analyze --no-db (capture + protocol analyzers + correlation)
#   full      mxlag analyze into a fresh SQLite database (everything)
#   sqlite    the full run's rows inserted again by SQLite alone (bench/sqlite_floor.c):
#             a floor under any run that stores them
#   twin      (first file) analyze --no-db pinned to one core, alone and beside
#             the same run on the other core: what the cores share
# and the ratios to the bare loop.  Then, on generated traffic with ground
# truth (mxlag-gen traffic: one busy host for 10 minutes at > 2000 lookups/s
# with every incident kind mixed, and a mirror port of 5 hosts), the share
# of slow replies diagnosed with exactly their injected cause and the
# replies blamed on another host's lookup (mxlag-truthcheck), with the time
# and peak RSS of that analysis.  Figures are measured, never assumed.
set -eu
cd "$(dirname "$0")/.."
sessions=100000
rounds=5
x4=0
tools=0
truth=1
while [ $# -gt 0 ]; do
	case "$1" in
	--sessions) sessions=$2; shift 2 ;;
	--rounds) rounds=$2; shift 2 ;;
	--x4) x4=1; shift ;;
	--tools) tools=1; shift ;;
	--no-truth) truth=0; shift ;;
	*) echo "usage: bench/run.sh [--sessions N] [--rounds N] [--x4] [--tools] [--no-truth]" >&2; exit 2 ;;
	esac
done

if [ "$tools" = 1 ]; then
	# ndpiReader (libndpi-bin) and tshark to compare with; as root they are
	# installed when missing, otherwise the comparison lines are left out
	scripts/setup.sh --bench || echo "bench: without ndpiReader/tshark (see above)" >&2
fi
B=build-bench
cmake -S . -B $B -DCMAKE_BUILD_TYPE=Release -DMXLAG_TESTS=OFF >/dev/null
cmake --build $B -j"$(nproc)" --target mxlag mxlag-gen mxlag-truthcheck bare_loop capbench runstat \
	sqlite_floor >/dev/null
mkdir -p bench/out
twin_done=0

measure() { # label packets cmd...
	label=$1; pk=$2; shift 2
	line=$($B/runstat "$@" 2>&1 >/dev/null | grep '^wall_s=' | tail -n 1)
	wall=$(echo "$line" | sed 's/.*wall_s=\([0-9.]*\).*/\1/')
	rss=$(echo "$line" | sed 's/.*maxrss_kb=\([0-9]*\).*/\1/')
	st=$(echo "$line" | sed 's/.*status=\([0-9]*\).*/\1/')
	pps=$(awk -v p="$pk" -v w="$wall" 'BEGIN { if (w > 0) printf "%.2f", p / w / 1e6; else print "inf" }')
	printf "%-10s wall %8.3f s  %8s Mpkt/s  peak RSS %7.1f MiB  exit %s\n" \
		"$label" "$wall" "$pps" "$(awk -v r="$rss" 'BEGIN{printf "%.1f", r/1024}')" "$st"
	eval "wall_$label=$wall; rss_$label=$rss"
}

median() { # numbers on stdin, one or more per line
	tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 }
		END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

run_file() { # file
	f=$1
	pk=$($B/bare_loop "$f" | awk '{print $2}')
	mb=$(awk -v b="$(stat -L -c %s "$f")" 'BEGIN{printf "%.1f", b/1048576}')
	echo "== $f: $pk packets, $mb MiB"
	measure capture "$pk" $B/capbench "$f"
	# bare, analyze and full in turn, $rounds times: medians, and the
	# medians of each round's own ratios
	walls_b=""; walls_a=""; walls_u=""; rat_a=""; rat_u=""; peak_a=0; peak_u=0
	r=1
	while [ "$r" -le "$rounds" ]; do
		echo "-- round $r of $rounds"
		# the bare loop right before and right after each of the two runs:
		# a run's ratio is to the mean of the two bare loops around it
		measure bare "$pk" $B/bare_loop "$f"
		b1=$wall_bare
		measure analyze "$pk" $B/mxlag analyze --no-db --quiet "$f"
		measure bare "$pk" $B/bare_loop "$f"
		b2=$wall_bare
		rm -f bench/out/bench.db bench/out/bench.db-wal bench/out/bench.db-shm
		measure full "$pk" $B/mxlag analyze --quiet --db bench/out/bench.db "$f"
		measure bare "$pk" $B/bare_loop "$f"
		b3=$wall_bare
		walls_b="$walls_b $b1 $b2 $b3"; walls_a="$walls_a $wall_analyze"; walls_u="$walls_u $wall_full"
		rat_a="$rat_a $(awk -v a="$wall_analyze" -v b1="$b1" -v b2="$b2" 'BEGIN{printf "%.2f", 2*a/(b1+b2)}')"
		rat_u="$rat_u $(awk -v u="$wall_full" -v b2="$b2" -v b3="$b3" 'BEGIN{printf "%.2f", 2*u/(b2+b3)}')"
		[ "$rss_analyze" -gt "$peak_a" ] && peak_a=$rss_analyze
		[ "$rss_full" -gt "$peak_u" ] && peak_u=$rss_full
		r=$((r + 1))
	done
	wall_bare=$(echo "$walls_b" | median)
	wall_analyze=$(echo "$walls_a" | median)
	wall_full=$(echo "$walls_u" | median)
	rss_analyze=$peak_a
	rss_full=$peak_u
	ratio_analyze=$(echo "$rat_a" | median)
	ratio_full=$(echo "$rat_u" | median)
	echo "medians of $rounds rounds: bare $wall_bare s (of $((rounds * 3)) runs), analyze $wall_analyze s, full $wall_full s (peak RSS: the largest)"
	echo "full / bare by round:$rat_u; analyze / bare by round:$rat_a (each to the bare loops right before and after it)"
	if [ "$tools" = 1 ] && command -v ndpiReader >/dev/null 2>&1; then
		measure ndpi "$pk" ndpiReader -q -i "$f"
	fi
	if [ "$tools" = 1 ] && command -v tshark >/dev/null 2>&1; then
		measure tshark "$pk" tshark -n -r "$f" -T fields -e smtp.response.code -e dns.time
	fi
	awk -v b="$wall_bare" -v c="$wall_capture" -v a="$ratio_analyze" -v u="$ratio_full" 'BEGIN {
		printf "ratios to bare loop: capture %.2fx  analyze %.2fx  full %.2fx (analyze, full: medians of the rounds)\n", c/b, a, u }'
	if [ "$tools" = 1 ] && [ -n "${wall_ndpi:-}" ]; then
		awk -v n="$wall_ndpi" -v u="$wall_full" 'BEGIN{printf "ndpiReader / mxlag full: %.2fx\n", n/u}'
	fi
	# the two cores: what a run on the other core costs this one.  The full
	# run's packet thread shares the machine with its writer: where the
	# two cores are siblings of one physical core (execution units and
	# caches shared, as on a 2-vCPU VM), every second of the writer's work
	# slows the packet thread too.  Once, on the first file: analyze
	# --no-db pinned to one core, alone and beside the same run looping on
	# the other, $rounds times each in turn.
	if [ "$twin_done" = 0 ] && [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null 2>&1 &&
		taskset -c 0 true 2>/dev/null && taskset -c 1 true 2>/dev/null; then
		twin_done=1
		walls_alone=""; walls_beside=""
		r=1
		while [ "$r" -le "$rounds" ]; do
			measure alone "$pk" taskset -c 0 $B/mxlag analyze --no-db --quiet "$f" >/dev/null
			rm -f bench/out/twin.stop
			( while [ ! -e bench/out/twin.stop ]; do
				taskset -c 1 $B/mxlag analyze --no-db --quiet "$f" >/dev/null 2>&1
			done ) &
			twin=$!
			sleep 0.3
			measure beside "$pk" taskset -c 0 $B/mxlag analyze --no-db --quiet "$f" >/dev/null
			touch bench/out/twin.stop
			wait "$twin" || true
			walls_alone="$walls_alone $wall_alone"; walls_beside="$walls_beside $wall_beside"
			r=$((r + 1))
		done
		rm -f bench/out/twin.stop
		a=$(echo "$walls_alone" | median); t=$(echo "$walls_beside" | median)
		awk -v a="$a" -v t="$t" -v n="$rounds" 'BEGIN {
			printf "twin       analyze --no-db on one core: alone %.3f s, beside a twin on the other core %.3f s (medians of %d): %+.0f %%\n", a, t, n, (t / a - 1) * 100 }'
	fi
	if [ "$tools" = 1 ] && [ -n "${wall_tshark:-}" ]; then
		awk -v t="$wall_tshark" -v u="$wall_full" 'BEGIN{printf "tshark / mxlag full: %.2fx\n", t/u}'
	fi
	# the rows the full run stored, inserted again by SQLite alone (no
	# packets): no run that stores them can be faster than this
	fl=$($B/sqlite_floor bench/out/bench.db)
	echo "$fl" | awk '{
		printf "sqlite     the %d rows alone: insert %.3f s (%.2f us/row), %d indexes %.3f s: %.3f s\n", $2, $4, $6, $8, $10, $4 + $10 }'
	floor=$(echo "$fl" | awk '{ printf "%.3f", $4 + $10 }')
	# issue 6's speed goals as time budgets for this file, beside that floor
	target() { # name seconds
		awk -v n="$1" -v t="$2" -v f="$floor" -v u="$wall_full" 'BEGIN {
			printf "goal %-26s %7.3f s  full run %s (%.3f s); SQLite alone %s\n", n, t,
			    u <= t ? "meets it" : "misses it", u, f <= t ? "fits" : sprintf("needs %.2fx that", f / t) }'
	}
	# issue 16's goals: the database per session, the full run against the
	# bare loop and ndpiReader, peak RSS
	nsess=$(sqlite3 bench/out/bench.db 'SELECT count(*) FROM sessions')
	dbb=$(stat -c %s bench/out/bench.db)
	awk -v b="$dbb" -v n="$nsess" 'BEGIN {
		printf "goal %-26s %7d B   database %.1f MiB for %d sessions: %.0f B per session, %s\n",
		    "<= 400 B per session", 400, b / 1048576, n, b / n, b / n <= 400 ? "meets it" : "misses it" }'
	awk -v r="$rss_full" 'BEGIN {
		printf "goal %-26s %7d MiB full run peak RSS %.1f MiB, %s\n", "peak RSS <= 64 MiB", 64,
		    r / 1024, r / 1024 <= 64 ? "meets it" : "misses it" }'
	awk -v r="$ratio_full" -v by="$rat_u" 'BEGIN {
		printf "goal %-26s %7s     full run %.2fx the bare loop (median of the rounds, which were%s), %s\n",
		    "8x the bare loop", "8x", r, by, r <= 8 ? "meets it" : "misses it" }'
	target "8x the bare loop (seconds)" "$(awk -v b="$wall_bare" 'BEGIN{printf "%.3f", 8 * b}')"
	if [ "$tools" = 1 ] && [ -n "${wall_ndpi:-}" ]; then
		target "2.5x faster than ndpiReader" "$(awk -v n="$wall_ndpi" 'BEGIN{printf "%.3f", n / 2.5}')"
	fi
	# issue 6's goals
	target "2.5 M pkt/s end to end" "$(awk -v p="$pk" 'BEGIN{printf "%.3f", p / 2.5e6}')"
	target "7x the bare loop" "$(awk -v b="$wall_bare" 'BEGIN{printf "%.3f", 7 * b}')"
	if [ "$tools" = 1 ] && [ -n "${wall_ndpi:-}" ]; then
		target "3x faster than ndpiReader" "$(awk -v n="$wall_ndpi" 'BEGIN{printf "%.3f", n / 3}')"
	fi
	if [ "$tools" = 1 ] && [ -n "${wall_tshark:-}" ]; then
		target "40x faster than tshark" "$(awk -v t="$wall_tshark" 'BEGIN{printf "%.3f", t / 40}')"
	fi
}

w=bench/out/workload-$sessions.pcap
[ -f "$w" ] || $B/mxlag-gen workload -o "$w" --sessions "$sessions" --seed 1 >/dev/null
run_file "$w"
if [ "$x4" = 1 ]; then
	n4=$((sessions * 4))
	w4=bench/out/workload-$n4.pcap
	[ -f "$w4" ] || $B/mxlag-gen workload -o "$w4" --sessions "$n4" --seed 1 >/dev/null
	run_file "$w4"
fi

# the diagnosis on traffic whose causes are known
diagnose() { # profile
	p=$1
	f=bench/out/traffic-$p.pcap
	[ -f "$f" ] || $B/mxlag-gen traffic --profile "$p" -q -o "$f" --truth "$f.tsv" >/dev/null
	pk=$($B/bare_loop "$f" | awk '{print $2}')
	echo "== generated traffic, profile $p: $pk packets, $(awk '$1 == "lookups_per_s" {print $2}' "$f.tsv.totals") lookups/s, $(awk '$1 == "seconds" {print $2}' "$f.tsv.totals") s, $(awk '$1 == "hosts" {print $2}' "$f.tsv.totals") host(s)"
	rm -f bench/out/truth.db bench/out/truth.db-wal bench/out/truth.db-shm
	measure truth "$pk" $B/mxlag analyze --quiet --db bench/out/truth.db "$f"
	$B/mxlag-truthcheck --db bench/out/truth.db --truth "$f.tsv" --show 0 | awk '
		$1 == "all" { printf "diagnosis  %d slow replies, %d exactly their injected cause: %s %%; %d blamed on another host\x27s lookup\n", $2, $5, $6, $7 }'
}
if [ "$truth" = 1 ]; then
	diagnose dense
	diagnose mirror
fi
