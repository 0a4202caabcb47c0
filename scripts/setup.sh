#!/bin/sh
# setup.sh - installs what mxlag needs from Debian's packages.
#   scripts/setup.sh          build dependencies
#   scripts/setup.sh --test   plus what the test suite uses (clang for the
#                             fuzzers, tshark and tcpdump for cross-checks,
#                             chromium to render the HTML report headless,
#                             prometheus and curl for the scrape test; the
#                             package's own service, where systemd starts
#                             it, is not used: the test runs its own server
#                             in a network namespace)
#   scripts/setup.sh --bench  plus what bench/ compares with and replays
#                             with (ndpiReader, tshark, tcpreplay)
# As root it runs apt-get for whatever is missing; otherwise it prints the
# apt-get line to run and fails.
set -eu

pkgs="gcc make cmake pkg-config libpcap-dev libndpi-dev libsqlite3-dev zlib1g-dev libzstd-dev libcriterion-dev sqlite3 libmicrohttpd-dev"
case "${1:-}" in
--test) pkgs="$pkgs clang libclang-rt-dev tshark tcpdump iproute2 valgrind chromium gzip zstd prometheus curl" ;;
--bench) pkgs="$pkgs libndpi-bin tshark tcpreplay iproute2 ethtool" ;;
esac

missing=""
for p in $pkgs; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "mxlag setup: missing packages:$missing" >&2
	echo "mxlag setup: run as root:  apt-get install -y$missing" >&2
	exit 1
fi
echo "mxlag setup: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
