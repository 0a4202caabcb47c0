#!/bin/sh
# demo.sh - the main job on the shipped example: installs what is missing,
# builds, analyzes examples/ptr-timeout.pcap into ./mxlag.db and prints the
# slow-reply report.
set -eu
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMXLAG_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc 2>/dev/null || echo 2)" --target mxlag >/dev/null
rm -f mxlag.db mxlag.db-wal mxlag.db-shm
./build/mxlag analyze examples/ptr-timeout.pcap
./build/mxlag report slow
