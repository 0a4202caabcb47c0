#!/bin/sh
# mkseeds_decomp.sh - the seed corpus of fuzz_decomp: examples/ptr-timeout.pcap
# compressed with gzip and zstd, as two gzip members and two zstd frames, a
# tiny member, an empty zstd frame and a truncated gzip stream.
#   fuzz/mkseeds_decomp.sh      (from the top of the tree; needs gzip, zstd)
set -eu
e=examples/ptr-timeout.pcap
d=fuzz/seeds/decomp
mkdir -p "$d"
gzip -9 -c "$e" >"$d/ptr-timeout.pcap.gz"
zstd -q -19 -c "$e" >"$d/ptr-timeout.pcap.zst"
(head -c 1000 "$e" | gzip -c; tail -c +1001 "$e" | gzip -c) >"$d/two-members.gz"
(head -c 1000 "$e" | zstd -q -c; tail -c +1001 "$e" | zstd -q -c) >"$d/two-frames.zst"
printf 'EHLO x\r\n' | gzip -c >"$d/tiny.gz"
head -c 900 "$d/ptr-timeout.pcap.gz" >"$d/truncated.gz"
printf '' | zstd -q -c >"$d/empty.zst"
