#!/bin/sh
# bench/live.sh - live capture under load: in two network namespaces joined
# by a veth pair, tcpreplay sends the benchmark's mail-host workload at fixed
# packet rates to `mxlag capture`, and we report what the kernel dropped and
# whether the database kept up (issue 6; target: no drops at 300 k pkt/s).
#
#   bench/live.sh [--rates "100000 300000 1000000"] [--topspeed] [--sessions N]
#                 [--buffer MB] [--no-db] [--pin] [--perf] [--keep]
#     --rates LIST  packet rates to replay at (space or comma separated;
#                   default 100000 300000 1000000)
#     --topspeed    one more line with tcpreplay --topspeed
#     --sessions N  workload size (default 100000 sessions, ~2.7 M packets;
#                   e.g. 10000 for a quick run)
#     --buffer MB   passed to mxlag capture --buffer (mxlag's default: 32)
#     --no-db       mxlag capture --no-db: the analysis without SQLite (to
#                   tell the packet path's limit from the writer's)
#     --pin         tcpreplay on CPU 0, mxlag on CPU 1 (taskset)
#     --perf        perf record mxlag at each rate; top symbols per thread in
#                   bench/out/live-perf-RATE.txt
#     --keep        keep the databases and mxlag's output (the directory is
#                   printed)
#
# Needs root (namespaces); installs tcpreplay and ethtool with apt-get when
# they are missing.  Namespaces mxsoak-tx and mxsoak-rx (veth mxsoak0 <->
# mxsoak1, no addresses, IPv6 off, offloads off: nothing is routed and
# nothing leaves them) exist only while the script runs.
#
# Per rate: what tcpreplay sent (and the rate it achieved), what pcap
# received and dropped (pcap_stats; also runs.kernel_drops), interface and
# backlog drops, whether mxlag's packet counter saw every packet sent, the
# rows in the database against an offline `mxlag analyze` of the same file,
# mxlag's peak RSS and CPU time, how long it needed to drain the ring after
# the replay ended and to stop after SIGINT, and for each mxlag thread its
# CPU time and its time runnable but waiting for a CPU (schedstat) and what
# the packet thread was doing (sampled: analyzing, waiting for packets in
# poll, or waiting in futex for the SQLite writer's queue).
# "DB kept up" = no drops, rows equal to the offline analysis, the ring
# drained within 5 s of the replay's end and exit within 5 s of SIGINT.
# DNS is compared as queries + retransmissions: replayed faster than it was
# recorded, a query retransmitted after a long silence may count as one
# query with a retransmission instead of two queries.  The databases live in
# a temporary directory owned by nobody, the user mxlag capture drops to.
#
# tcpreplay, the veth's receive path (softirq, on the sender's CPU) and
# mxlag (packet thread + SQLite writer thread) share the machine's CPUs:
# on 2 cores the sender competes with the capture.  The load average is
# printed with every line.
set -eu
cd "$(dirname "$0")/.."
rates="100000 300000 1000000"
sessions=100000
topspeed=0
buffer=""
nodb=""
pin=0
perf=0
keep=0
usage() {
	echo "usage: bench/live.sh [--rates LIST] [--topspeed] [--sessions N] [--buffer MB] [--no-db] [--pin] [--perf] [--keep]" >&2
	exit 2
}
while [ $# -gt 0 ]; do
	case "$1" in
	--rates) [ $# -ge 2 ] || usage; rates=$(echo "$2" | tr ',' ' '); shift 2 ;;
	--topspeed) topspeed=1; shift ;;
	--sessions) [ $# -ge 2 ] || usage; sessions=$2; shift 2 ;;
	--buffer) [ $# -ge 2 ] || usage; buffer=$2; shift 2 ;;
	--no-db) nodb=--no-db; shift ;;
	--pin) pin=1; shift ;;
	--perf) perf=1; shift ;;
	--keep) keep=1; shift ;;
	-h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
	*) usage ;;
	esac
done
for r in $rates; do
	case "$r" in '' | *[!0-9]*) echo "live.sh: bad rate: $r" >&2; exit 2 ;; esac
done

die() { echo "live.sh: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces, live capture)"

# --- packages -------------------------------------------------------------
missing=""
for p in tcpreplay ethtool; do
	command -v "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "live.sh: installing$missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
for c in ip tcpreplay sqlite3 ps; do
	command -v "$c" >/dev/null 2>&1 || die "$c is missing"
done
[ "$perf" = 0 ] || command -v perf >/dev/null 2>&1 || die "--perf: perf is missing"
[ "$pin" = 0 ] || command -v taskset >/dev/null 2>&1 || die "--pin: taskset is missing"

# --- build and workload, as bench/run.sh does ------------------------------
B=build-bench
cmake -S . -B $B -DCMAKE_BUILD_TYPE=Release -DMXLAG_TESTS=OFF >/dev/null
cmake --build $B -j"$(nproc)" --target mxlag mxlag-gen runstat >/dev/null
mkdir -p bench/out
w=bench/out/workload-$sessions.pcap
[ -f "$w" ] || $B/mxlag-gen workload -o "$w" --sessions "$sessions" --seed 1 >/dev/null
MXLAG=$(pwd)/$B/mxlag
RUNSTAT=$(pwd)/$B/runstat

# --- our own lock, namespaces, cleanup -------------------------------------
TX=mxsoak-tx
RX=mxsoak-rx
VTX=mxsoak0
VRX=mxsoak1
LOCK=/tmp/mxsoak.lock
exec 8>>"$LOCK" || die "cannot open $LOCK"
command -v flock >/dev/null 2>&1 && { flock -n 8 || die "another live.sh holds $LOCK"; }

WORK=""
mx_wrap=""
mx_pid=""
tr_pid=""
perf_pid=""
smp_pid=""
kill_pid() { # pid: SIGTERM, then SIGKILL after 3 s
	[ -n "$1" ] || return 0
	kill -0 "$1" 2>/dev/null || return 0
	kill -TERM "$1" 2>/dev/null || true
	i=0
	while kill -0 "$1" 2>/dev/null && [ $i -lt 30 ]; do sleep 0.1; i=$((i + 1)); done
	kill -KILL "$1" 2>/dev/null || true
}
del_ns() {
	for ns in $TX $RX; do
		ip netns list 2>/dev/null | grep -q "^$ns\( \|$\)" || continue
		for p in $(ip netns pids "$ns" 2>/dev/null); do kill_pid "$p"; done
		ip netns del "$ns" 2>/dev/null || true
	done
}
cleanup() {
	trap - EXIT INT TERM
	kill_pid "$perf_pid"
	[ -z "$WORK" ] || rm -f "$WORK/samples.on"
	kill_pid "$smp_pid"
	kill_pid "$tr_pid"
	kill_pid "$mx_pid"
	kill_pid "$mx_wrap"
	del_ns
	if [ -n "$WORK" ]; then
		if [ "$keep" = 1 ]; then echo "databases kept in $WORK"; else rm -rf "$WORK"; fi
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

del_ns # a previous run that died (we hold the lock, so it is not running)
ip netns add $TX
ip netns add $RX
for ns in $TX $RX; do
	# no IPv6 (router solicitations, MLD): the wire carries only the workload
	ip netns exec $ns sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
		net.ipv6.conf.default.disable_ipv6=1 >/dev/null
done
ip -n $TX link add $VTX mtu 9000 type veth peer name $VRX netns $RX mtu 9000
for x in "$TX $VTX" "$RX $VRX"; do
	set -- $x
	# no offloads: the receiver sees the frames exactly as sent (no GRO merging)
	ip netns exec "$1" ethtool -K "$2" gro off gso off tso off lro off >/dev/null 2>&1 || true
	ip -n "$1" link set "$2" up
done

WORK=$(mktemp -d /tmp/mxsoak.XXXXXX)
# the capture drops root to --user nobody: the database directory is nobody's,
# as /var/lib/mxlag would be the mxlag user's
chown nobody "$WORK"
chmod 755 "$WORK"

# --- helpers ---------------------------------------------------------------
secs() { # "1m2.500s" (sh times) -> 62.500
	echo "$1" | awk -F'[ms]' '{ printf "%.2f", $1 * 60 + $2 }'
}
thread_ticks() { # pid tid -> utime+stime in clock ticks
	awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/task/$2/stat" 2>/dev/null || echo 0
}
sched_snap() { # pid -> "tid run_ns runqueue_wait_ns" per thread
	for t in /proc/"$1"/task/*; do
		read -r run wt _ <"$t/schedstat" 2>/dev/null && echo "${t##*/} $run $wt"
	done
}
sched_delta() { # before-file after-file main-tid -> "main_run main_wait other_run other_wait" in s
	awk -v m="$3" 'NR == FNR { r[$1] = $2; w[$1] = $3; next }
		{ dr = $2 - r[$1]; dw = $3 - w[$1]; if ($1 == m) { mr += dr; mw += dw } else { or += dr; ow += dw } }
		END { printf "%.1f %.1f %.1f %.1f", mr / 1e9, mw / 1e9, or / 1e9, ow / 1e9 }' "$1" "$2"
}
# What the packet thread is doing, 20 times a second (shell builtins only):
# poll = waiting for packets (the ring is empty), futex = waiting for the
# SQLite writer (queue full, or a flush draining it), fsync/write = SQLite
# work on the packet thread itself, cpu = analyzing (or runnable, waiting
# for a CPU).
sampler() { # pid outfile
	while [ -e "$2.on" ]; do
		sc=x
		read -r sc _ <"/proc/$1/syscall" 2>/dev/null || break
		read -r st <"/proc/$1/stat" 2>/dev/null || break
		st=${st##*) }
		echo "${st%% *} $sc"
		sleep 0.05
	done >"$2"
}
in_poll() { # pid: main thread blocked in poll/ppoll
	s=$(cut -d' ' -f1 "/proc/$1/syscall" 2>/dev/null || echo x)
	[ "$s" = 7 ] || [ "$s" = 271 ]
}
ifstat() { # ns dev counter
	ip netns exec "$1" cat "/sys/class/net/$2/statistics/$3" 2>/dev/null || echo 0
}
softnet_drops() { # sum of the per-CPU backlog drops (hex, 2nd column)
	t=0
	for h in $(awk '{ print $2 }' /proc/net/softnet_stat); do t=$((t + 0x$h)); done
	echo $t
}
load() { cut -d' ' -f1-3 /proc/loadavg; }
field() { # file name -> value of the "  name   value" counter line
	awk -v n="$2" '$1 == n { print $2; exit }' "$1"
}
rows() { # db -> "sessions replies dns_queries dns_sends"
	# every reply (the view replies): which of them are rows of transactions
	# depends on their latency, and replayed faster they are faster
	sqlite3 "$1" "select (select count(*) from sessions), (select count(*) from replies),
		(select count(*) from dns_queries), (select count(*) + coalesce(sum(retransmits), 0) from dns_queries)" |
		tr '|' ' '
}

# --- offline reference -----------------------------------------------------
off=bench/out/live-offline-$sessions.db
if [ ! -f "$off" ] || [ "$w" -nt "$off" ] || [ "$MXLAG" -nt "$off" ]; then
	rm -f "$off" "$off-wal" "$off-shm"
	# (its stderr to a log: only a failure is shown)
	$MXLAG analyze --quiet --db "$off" "$w" 2>"$off.log" ||
		{ cat "$off.log" >&2; die "offline analysis of $w failed"; }
fi
set -- $(rows "$off")
off_s=$1 off_t=$2 off_d=$3 off_ds=$4
npk=$(sqlite3 "$off" "select packets from runs")
span=$(sqlite3 "$off" "select printf('%.0f', last_ts - first_ts) from runs")
echo "== $w: $npk packets over $span s; offline analysis: $off_s sessions, $off_t replies, $off_d DNS queries ($off_ds sent, with retransmissions)"
echo "== replayed at R pkt/s the workload's time shrinks ($span s -> $npk/R s): a query retransmitted after a long"
echo "   silence may then count as one query with a retransmission, so DNS is compared as queries + retransmissions"
echo "== $(nproc) CPUs; tcpreplay, the veth receive path and mxlag share them$([ "$pin" = 1 ] && echo " (pinned: tcpreplay CPU 0, mxlag CPU 1)")"
echo "== $(uname -r), tcpreplay $(tcpreplay --version 2>&1 | awk 'NR == 1 { print $3 }'), mxlag --buffer ${buffer:-32 (default)} MB"

# --- one rate --------------------------------------------------------------
one() { # rate|topspeed
	rate=$1
	tag=$rate
	db=$WORK/live-$tag.db
	out=$WORK/mxlag-$tag.out
	err=$WORK/mxlag-$tag.err
	rm -f "$db" "$db-wal" "$db-shm"
	mxtask=""
	trtask=""
	if [ "$pin" = 1 ]; then mxtask="taskset -c 1"; trtask="taskset -c 0"; fi
	# sh -> runstat (wall, peak RSS) -> mxlag; `times` gives the CPU time of
	# the waited-for descendants.  The async child ignores SIGINT until mxlag
	# installs its own handler, so only our kill reaches it.
	# shellcheck disable=SC2086
	ip netns exec $RX sh -c '"$@" & echo $! >"'"$WORK"'/runstat.pid"; wait $!; s=$?; times >&2; exit $s' \
		sh $mxtask "$RUNSTAT" "$MXLAG" capture -i $VRX --db "$db" --user nobody \
		${buffer:+--buffer "$buffer"} $nodb >"$out" 2>"$err" 8>&- &
	mx_wrap=$!
	i=0
	mx_pid=""
	while [ $i -lt 100 ]; do
		if [ -s "$WORK/runstat.pid" ]; then
			mx_pid=$(ps -o pid= --ppid "$(cat "$WORK/runstat.pid")" | tr -d ' ' | head -n 1)
			[ -n "$mx_pid" ] && in_poll "$mx_pid" && break
		fi
		kill -0 $mx_wrap 2>/dev/null || break
		sleep 0.1
		i=$((i + 1))
	done
	rm -f "$WORK/runstat.pid"
	if [ -z "$mx_pid" ] || ! in_poll "$mx_pid"; then
		cat "$err" >&2
		die "mxlag capture did not start"
	fi
	if [ "$perf" = 1 ]; then
		perf record -q -F 499 -g --per-thread -p "$mx_pid" -o "bench/out/live-perf-$tag.data" \
			>/dev/null 2>&1 8>&- &
		perf_pid=$!
		sleep 0.5
	fi
	sched_snap "$mx_pid" >"$WORK/sched0"
	: >"$WORK/samples.on"
	sampler "$mx_pid" "$WORK/samples" 8>&- &
	smp_pid=$!
	rx0=$(ifstat $RX $VRX rx_packets); rxd0=$(ifstat $RX $VRX rx_dropped)
	txd0=$(ifstat $TX $VTX tx_dropped); sn0=$(softnet_drops)
	if [ "$rate" = topspeed ]; then how=--topspeed; else how=--pps=$rate; fi
	# shellcheck disable=SC2086
	ip netns exec $TX sh -c '"$@"; s=$?; times >&2; exit $s' sh $trtask \
		tcpreplay -K -i $VTX "$how" "$w" >"$WORK/tcpreplay-$tag.out" 2>&1 8>&- &
	tr_pid=$!
	wait $tr_pid || { cat "$WORK/tcpreplay-$tag.out" >&2; die "tcpreplay failed"; }
	tr_pid=""
	t_end=$(date +%s.%N)
	# drained: the packet thread sits in poll() and used no CPU for 0.6 s
	i=0
	last=-1
	while [ $i -lt 600 ]; do
		now=$(thread_ticks "$mx_pid" "$mx_pid")
		if [ "$now" = "$last" ] && in_poll "$mx_pid"; then break; fi
		last=$now
		sleep 0.3
		i=$((i + 1))
	done
	t_idle=$(date +%s.%N)
	drain=$(awk -v a="$t_end" -v b="$t_idle" 'BEGIN { d = b - a - 0.6; printf "%.1f", d < 0 ? 0 : d }')
	rx1=$(ifstat $RX $VRX rx_packets); rxd1=$(ifstat $RX $VRX rx_dropped)
	txd1=$(ifstat $TX $VTX tx_dropped); sn1=$(softnet_drops)
	# CPU and runqueue wait per thread during the replay: the packet thread,
	# and the rest (the SQLite writer)
	sched_snap "$mx_pid" >"$WORK/sched1"
	set -- $(sched_delta "$WORK/sched0" "$WORK/sched1" "$mx_pid")
	main_run=$1 main_wait=$2 oth_run=$3 oth_wait=$4
	rm -f "$WORK/samples.on"
	wait "$smp_pid" 2>/dev/null || true
	smp_pid=""
	states=$(awk '{
		n++
		if ($2 == "running" || $2 == "-1") c = "cpu"
		else if ($2 == 7 || $2 == 271) c = "poll"
		else if ($2 == 202) c = "futex"
		else if ($2 == 74 || $2 == 75) c = "fsync"
		else if ($2 == 1 || $2 == 18) c = "write"
		else c = "syscall-" $2
		k[c]++
	} END { for (c in k) printf "%s %.0f%%, ", c, 100 * k[c] / n; printf "%d samples", n }' "$WORK/samples")
	if [ -n "$perf_pid" ]; then
		kill -INT "$perf_pid" 2>/dev/null || true
		wait "$perf_pid" 2>/dev/null || true
		perf_pid=""
	fi
	t_int=$(date +%s.%N)
	kill -INT "$mx_pid"
	i=0
	while kill -0 "$mx_wrap" 2>/dev/null && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
	stopped=yes
	if kill -0 "$mx_wrap" 2>/dev/null; then
		stopped=no
		kill_pid "$mx_pid"
	fi
	rc=0
	wait "$mx_wrap" || rc=$?
	mx_wrap=""
	mx_pid=""
	t_exit=$(date +%s.%N)
	stop=$(awk -v a="$t_int" -v b="$t_exit" 'BEGIN { printf "%.1f", b - a }')

	# --- figures
	to=$WORK/tcpreplay-$tag.out
	sent=$(awk '/Successful packets:/ { print $3 }' "$to")
	failed=$(awk '/Failed packets:/ { print $3 }' "$to")
	tr_s=$(awk '/^Actual:/ { for (i = 1; i <= NF; i++) if ($i == "sent") print $(i + 2) }' "$to")
	pps=$(awk -v n="$sent" -v s="$tr_s" 'BEGIN { if (s > 0) printf "%.0f", n / s; else print "?" }')
	tr_cpu=$(tail -n 1 "$to")
	tr_cpu=$(awk -v u="$(secs "${tr_cpu% *}")" -v s="$(secs "${tr_cpu#* }")" 'BEGIN { printf "%.1f", u + s }')
	krecv=$(field "$out" kernel.received)
	kdrop=$(field "$out" kernel.dropped)
	kif=$(field "$out" kernel.if_dropped)
	mpk=$(field "$out" packets)
	dbdrop=-
	[ -n "$nodb" ] || dbdrop=$(sqlite3 "$db" "select coalesce(kernel_drops, 'NULL') || '/' || (finished is not null) from runs" 2>/dev/null || echo "?")
	rs=$(grep '^wall_s=' "$err" | tail -n 1)
	rss=$(echo "$rs" | sed 's/.*maxrss_kb=\([0-9]*\).*/\1/')
	cpu=$(tail -n 1 "$err")
	cpu=$(awk -v u="$(secs "${cpu% *}")" -v s="$(secs "${cpu#* }")" 'BEGIN { printf "%.1f", u + s }')
	set -- - - - -
	[ -n "$nodb" ] || set -- $(rows "$db" 2>/dev/null) - - - -
	s=$1 t=$2 d=$3 ds=$4
	match=no
	[ "$s" = "$off_s" ] && [ "$t" = "$off_t" ] && [ "$ds" = "$off_ds" ] && match=yes
	saw=no
	[ "$mpk" = "$sent" ] && saw=yes
	ok=no
	kept=DB
	[ -z "$nodb" ] || { match=no-db; dbdrop=no-db; kept=capture; }
	{ [ "$match" = yes ] || [ -n "$nodb" ]; } && [ "${kdrop:-1}" = 0 ] && [ "$stopped" = yes ] && [ "$rc" = 0 ] &&
		awk -v s="$stop" -v d="$drain" 'BEGIN { exit !(s <= 5 && d <= 5) }' && ok=yes
	printf "%-9s sent %8s (failed %s) at %8s pkt/s | pcap recv %8s drop %7s ifdrop %s | veth rx %s rx_drop %s tx_drop %s backlog_drop %s\n" \
		"$tag" "$sent" "${failed:-?}" "$pps" "${krecv:-?}" "${kdrop:-?}" "${kif:-?}" \
		"$((rx1 - rx0))" "$((rxd1 - rxd0))" "$((txd1 - txd0))" "$((sn1 - sn0))"
	printf "          mxlag packets %8s (all sent: %s) | rows sess %s/%s replies %s/%s dns %s/%s (sent %s/%s) (= offline: %s) | runs.kernel_drops/finished %s\n" \
		"${mpk:-?}" "$saw" "$s" "$off_s" "$t" "$off_t" "$d" "$off_d" "$ds" "$off_ds" "$match" "$dbdrop"
	printf "          packet thread during the replay: CPU %s s, waited for a CPU %s s; states: %s\n" \
		"$main_run" "$main_wait" "$states"
	printf "          writer (other threads): CPU %s s, waited for a CPU %s s\n" "$oth_run" "$oth_wait"
	printf "          mxlag RSS %s MiB, CPU %s s in all, drained %s s after the replay, exit %s %s s after SIGINT | tcpreplay CPU %s s | load %s | %s kept up: %s\n" \
		"$(awk -v r="${rss:-0}" 'BEGIN { printf "%.1f", r / 1024 }')" "$cpu" \
		"$drain" "$rc" "$stop" "$tr_cpu" "$(load)" "$kept" "$ok"
	[ "$stopped" = yes ] || echo "          mxlag did not stop within 60 s of SIGINT: killed"
	if [ "$perf" = 1 ]; then
		perf report -i "bench/out/live-perf-$tag.data" --stdio --no-children --sort comm,dso,sym \
			--percent-limit 1 -g none 2>/dev/null | grep -v '^$' >"bench/out/live-perf-$tag.txt" || true
		echo "          perf: bench/out/live-perf-$tag.txt"
	fi
}

echo "load before: $(uptime)"
for r in $rates; do one "$r"; done
[ "$topspeed" = 0 ] || one topspeed
echo "load after: $(uptime)"
