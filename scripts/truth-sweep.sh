#!/bin/sh
# truth-sweep.sh - how often mxlag names the right cause, over generated
# traffic with other seeds than the tests use: for each seed, mxlag-gen
# traffic writes a capture and the truth of every slow reply, mxlag analyze
# stores it, and mxlag-truthcheck compares (see README, "Generated traffic").
#
#   scripts/truth-sweep.sh [--build DIR] [--profile NAME] [--seeds "11 12 13"]
#                          [--show N] [--keep] [-- MXLAG-GEN TRAFFIC OPTIONS]
#     --build DIR     a build with mxlag, mxlag-gen and mxlag-truthcheck
#                     (default build-sweep, made as a Release build)
#     --profile NAME  light, issue12, dense or mirror (default mirror)
#     --seeds LIST    seeds to run (default "11 12 13 14")
#     --show N        wrong replies listed per kind and seed (default 3)
#     --keep          keep the captures, databases and checker reports (the
#                     directory is printed)
#     -- ...          passed to mxlag-gen traffic, e.g. -- --stub mixed
#                     --seconds 200
#
# One line per seed (slow replies, exactly right, wrong, foreign, the
# checker's exit status), the first wrong replies of each, and the total.
# Exits 1 when a reply had another host's lookup as its cause (foreign) in
# any seed, else 0: the share of exactly right replies is a figure to read,
# not a threshold (the dense tests hold their seeds to 99.5 %).
set -eu
cd "$(dirname "$0")/.."
B=build-sweep
profile=mirror
seeds="11 12 13 14"
show=3
keep=0
usage() {
	echo "usage: scripts/truth-sweep.sh [--build DIR] [--profile NAME] [--seeds LIST] [--show N] [--keep] [-- GEN-OPTIONS]" >&2
	exit 2
}
while [ $# -gt 0 ]; do
	case "$1" in
	--build) [ $# -ge 2 ] || usage; B=$2; shift 2 ;;
	--profile) [ $# -ge 2 ] || usage; profile=$2; shift 2 ;;
	--seeds) [ $# -ge 2 ] || usage; seeds=$(echo "$2" | tr ',' ' '); shift 2 ;;
	--show) [ $# -ge 2 ] || usage; show=$2; shift 2 ;;
	--keep) keep=1; shift ;;
	--) shift; break ;;
	-h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
	*) usage ;;
	esac
done
for s in $seeds; do
	case "$s" in '' | *[!0-9]*) echo "truth-sweep.sh: bad seed: $s" >&2; exit 2 ;; esac
done
case "$show" in '' | *[!0-9]*) usage ;; esac

if [ ! -x "$B/mxlag" ] || [ ! -x "$B/mxlag-gen" ] || [ ! -x "$B/mxlag-truthcheck" ]; then
	cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=Release -DMXLAG_TESTS=OFF >/dev/null
	cmake --build "$B" -j"$(nproc 2>/dev/null || echo 2)" \
		--target mxlag mxlag-gen mxlag-truthcheck >/dev/null
fi
dir=$(mktemp -d "${TMPDIR:-/tmp}/mxlag-sweep.XXXXXX")
[ "$keep" = 1 ] || trap 'rm -rf "$dir"' EXIT

echo "== profile $profile, seeds $seeds${*:+, mxlag-gen traffic $*}"
t_slow=0 t_right=0 t_foreign=0 failed=0
for s in $seeds; do
	f=$dir/$profile-$s
	"$B/mxlag-gen" traffic --profile "$profile" --seed "$s" "$@" -q -o "$f.pcap" \
		--truth "$f.tsv" >/dev/null
	"$B/mxlag" analyze --quiet --db "$f.db" "$f.pcap" >"$f.analyze" 2>&1 ||
		{ echo "truth-sweep.sh: mxlag analyze failed on seed $s:" >&2; cat "$f.analyze" >&2; exit 1; }
	[ "$keep" = 1 ] || rm -f "$f.pcap"
	rc=0
	"$B/mxlag-truthcheck" --db "$f.db" --truth "$f.tsv" --min-right 100 --max-foreign 0 \
		--show "$show" >"$f.check" 2>&1 || rc=$?
	[ "$rc" -le 1 ] || { echo "truth-sweep.sh: mxlag-truthcheck failed on seed $s:" >&2; cat "$f.check" >&2; exit 1; }
	# the checker's "all" row: kind truth found slow right %right foreign | ...
	read -r slow right foreign <<EOF
$(awk '$1 == "all" { print $4, $5, $7; found = 1; exit } END { if (!found) print 0, 0, 0 }' "$f.check")
EOF
	printf '%-8s seed %-6s %6s slow replies  %6s exactly right (%s %%)  %4s wrong  %s foreign\n' \
		"$profile" "$s" "$slow" "$right" \
		"$(awk -v r="$right" -v n="$slow" 'BEGIN { printf "%.2f", n ? 100 * r / n : 100 }')" \
		"$((slow - right))" "$foreign"
	[ "$right" = "$slow" ] || sed -n '/^first wrong/,/^FAIL/p' "$f.check" | grep -v '^FAIL' | sed 's/^/    /'
	t_slow=$((t_slow + slow))
	t_right=$((t_right + right))
	t_foreign=$((t_foreign + foreign))
	[ "$foreign" = 0 ] || failed=1
done
printf '%-8s total       %6s slow replies  %6s exactly right (%s %%)  %4s wrong  %s foreign\n' \
	"$profile" "$t_slow" "$t_right" \
	"$(awk -v r="$t_right" -v n="$t_slow" 'BEGIN { printf "%.2f", n ? 100 * r / n : 100 }')" \
	"$((t_slow - t_right))" "$t_foreign"
[ "$keep" = 0 ] || echo "== kept in $dir"
exit "$failed"
