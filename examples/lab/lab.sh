#!/bin/bash
# lab.sh - a real-server lab for mxlag: reproduces the incidents of
# DESIGN.md with the real Debian 12 programs (exim 4.96, tcpserver 0.88,
# dovecot, unbound 1.17; postfix 3.7 and sendmail 8.17, which conflict with
# exim4, unpacked from their .debs into /var/cache/mxlab instead of being
# installed) in network namespaces, records each scenario with tcpdump on
# the mail host (the mirror-* scenarios: on the bridge, as a switch's mirror
# port sees two mail hosts) and writes SCENARIO.pcap + SCENARIO.truth.json.
#
#   lab.sh list
#   lab.sh run SCENARIO... -o OUTDIR      (or: lab.sh run all -o OUTDIR)
#   lab.sh cleanup
#
# Needs root on Debian 12 (installs its packages with apt-get when missing).
# Everything runs in the namespaces mxlab-lan (a bridge), mxlab-client,
# mxlab-mail, mxlab-resolver and mxlab-inet (an "internet" that drops every
# IP packet, but for one answering remote MX in outbound-size), and for the
# mirror-* scenarios mxlab-mail2 (a second mail host); only
# documentation addresses are used and no namespace has a
# route to the host, so no packet can leave the lab.  All configuration is
# generated into a temporary directory; every process is stopped by PID and
# every namespace removed at the end, also on failure or interruption.
#
# Environment: MXLAB_KEEP=1 keeps the temporary directory (configs, logs);
# MXLAB_NO_INSTALL=1 never runs apt-get; MXLAB_CACHE=DIR holds the unpacked
# postfix and sendmail (default /var/cache/mxlab).
set -u

LAB_DIR=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3

NS_LAN=mxlab-lan
NS_CLIENT=mxlab-client
NS_MAIL=mxlab-mail
NS_RES=mxlab-resolver
NS_INET=mxlab-inet
NS_MAIL2=mxlab-mail2       # a second mail host, only in the mirror-* scenarios
BASE_NS="$NS_CLIENT $NS_MAIL $NS_RES $NS_INET $NS_LAN"
ALL_NS="$NS_CLIENT $NS_MAIL $NS_MAIL2 $NS_RES $NS_INET $NS_LAN"

# addresses (documentation ranges only)
MAIL4=192.0.2.10
MAIL6=2001:db8::10
MAIL2_4=192.0.2.11         # the second mail host (mxlab-mail2)
RES4=192.0.2.53
GW4=192.0.2.1              # the "internet" router: answers ARP, drops all IP
CLIENT4=192.0.2.200        # .200-.204 all live in mxlab-client
CLIENT6=2001:db8::200
ROOT1=198.51.100.1         # fake root servers (in the dead internet)
ROOT2=203.0.113.1
ISP_DNS=198.51.100.53      # upstream of the mail host's local cache (dead)
REMOTE_MX=203.0.113.25     # a remote MX that never answers
SINK_MX=203.0.113.26       # a remote MX that answers (smtpsink.py in mxlab-inet)

# scenario: description (in the order they run for "all": most important first)
SCENARIOS="
ptr-timeout|exim resolves the client's PTR; the resolver has no reverse zone for 192.0.2.0/24 and recurses into the dead internet: the 220 greeting waits for the lookup to time out
ptr-fixed|the same with an (empty) reverse zone on the resolver: fast NXDOMAIN, prompt greeting
ident-dropped|exim's ident (RFC 1413) probe to the client's port 113 is dropped by the client's firewall: greeting waits the 5 s ident timeout
ident-rejected|the same, the client's firewall rejects port 113 with a TCP reset: ident refused at once, prompt greeting
tcpserver-pop3|tcpserver without -H -R -l: PTR of its own address (unanswered), PTR of the client (unanswered), ident (dropped): +OK waits about two minutes
tcpserver-pop3-fixed|the same network with tcpserver -H -R -l mx.example.org: no lookups, prompt +OK
dovecot-pop3|dovecot POP3, healthy: nothing slow
dovecot-selfname|dovecot POP3 on a host whose bare host name (mx) is not in /etc/hosts: the first login process looks the name up in DNS, the resolver never answers, +OK waits
slow-data|exim delays the reply to the end of DATA by 4 s itself (delay in the DATA ACL): no DNS or ident traffic during the wait
sender-checks|exim verifies the sender (verify = sender) whose domain's zone the resolver cannot reach: MAIL waits for the MX lookup to time out
concurrent|five clients at once (192.0.2.200-204); only 192.0.2.202 has no PTR record and waits, the others resolve at once
ipv6|an IPv6 client (2001:db8::200): exim's ip6.arpa PTR lookup goes unanswered (no reverse zone for 2001:db8::/32)
local-resolver|a caching unbound on 127.0.0.1 of the mail host forwards to an upstream in the dead internet: the greeting waits for the PTR; upstream queries are captured too (capture on any)
outbound|exim accepts a message for remote.example and delivers it at once to an MX (203.0.113.25) that never answers: SYNs only
dnsbl|exim checks the client against a DNSBL zone (dnslists = dnsbl.example) the resolver cannot reach: RCPT waits
outlook-abort|incident 1 as the user saw it: exim would wait 90 s for the client's PTR (dns_retrans 30s, dns_retry 3), the client gives up like Outlook after 60 s without a greeting
postfix-ptr-timeout|incident 1 with postfix 3.7: smtpd resolves the client's PTR (libc resolver, timeout:2 attempts:2); the resolver has no reverse zone and recurses into the dead internet: the 220 greeting waits
ip-literal-relay|incident 6: sendmail 8.17 with its smart host written as a bare IP (DS203.0.113.25, not [203.0.113.25]) delivers interactively: the reply to the final dot waits for the MX lookup of the name 203.0.113.25
ip-literal-relay-fixed|the remedy, DS[203.0.113.25]: no lookup; the final dot's reply still waits, now for the connection to the dead relay (no DNS cause)
outbound-size|incident 7 (sizes): exim delivers a 3 MB message to a remote MX (203.0.113.26, smtpsink.py) that answers the final dot after 3 s
postfix-relay-ip|the same bare-IP smart host with postfix 3.7 (relayhost = 203.0.113.25): no lookup of the numeric name, a direct connection that is never answered (SYNs only)
mirror-two-mtas|a mirror port (capture on the bridge) with two mail hosts: exim on 192.0.2.10 waits for the client's unanswered PTR before its greeting while postfix on 192.0.2.11 (fast NXDOMAIN) holds the final dot for its slow content filter; the same client delivers to both at once
mirror-two-mtas-relay|the same, and exim relays the client's message to postfix (a session between two monitored hosts) while a second session to exim waits for the client's PTR
tls-dnsbl|exim with STARTTLS (TLS 1.3): the client's encrypted RCPT waits for a DNSBL zone (dnslists = dnsbl.example) the resolver cannot reach
tls12-dnsbl|the same with the client held to TLS 1.2
tls-sender|exim with STARTTLS verifies the sender (verify = sender) whose domain's zone the resolver cannot reach: the encrypted MAIL waits for the MX lookup
tls-data|exim with STARTTLS looks up the sender domain's DMARC record (TXT _dmarc.slow.example) after the message, in a zone the resolver cannot reach: the encrypted end of DATA waits
smtps-ptr|exim on port 465 (TLS on connect) with no reverse zone on the resolver: the ServerHello waits for exim's PTR lookup of the client
dovecot-pop3s-selfname|dovecot POP3S on port 995 on a host whose bare host name (mx) is not in /etc/hosts: the first login process looks the name up in DNS, the resolver never answers
bounce-storm|a spammer sends 33 messages to unknown users of exim, which accepts them and bounces each (MAIL FROM:<>) to its forged sender domain, whose MX never answers: SYN-only deliveries fill exim's 4 queue runners and an ordinary message for a reachable remote MX is delivered late
big-message|a 200 MB message arrives; exim's single content scanner (read, hash, fsync a copy) is busy with it, and a second client's final dot waits for the scanner: a slow reply with no DNS or ident cause
"

PIDS=""          # processes started by this run
T=""             # temporary directory
S=""             # current scenario's directory
OUT=""

msg() { printf '%s lab: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
	msg "error: $*"
	exit 1
}

scenario_names() { printf '%s\n' "$SCENARIOS" | sed -n 's/^\([a-z0-9-]*\)|.*/\1/p'; }

usage() {
	cat >&2 <<EOF
usage: lab.sh list
       lab.sh run SCENARIO...|all -o OUTDIR
       lab.sh cleanup
EOF
	exit 2
}

# ---------------------------------------------------------------------------
# packages

need_root() { [ "$(id -u)" = 0 ] || die "must run as root (network namespaces, tcpdump, servers)"; }

ensure_packages() {
	local missing="" p
	command -v ip >/dev/null || missing="$missing iproute2"
	command -v tcpdump >/dev/null || missing="$missing tcpdump"
	command -v ethtool >/dev/null || missing="$missing ethtool"
	command -v nft >/dev/null || missing="$missing nftables"
	command -v unbound >/dev/null || missing="$missing unbound"
	command -v exim4 >/dev/null || missing="$missing exim4-daemon-light"
	command -v tcpserver >/dev/null || missing="$missing ucspi-tcp"
	[ -x /usr/sbin/dovecot ] && [ -e /usr/lib/dovecot/pop3 ] || missing="$missing dovecot-pop3d"
	[ -x "$PY" ] || missing="$missing python3"
	command -v ss >/dev/null || missing="$missing iproute2"
	command -v openssl >/dev/null || missing="$missing openssl"
	[ -z "$missing" ] && return 0
	[ "${MXLAB_NO_INSTALL:-0}" = 1 ] && die "missing packages:$missing (MXLAB_NO_INSTALL=1)"
	[ -r /etc/debian_version ] || die "missing packages:$missing (and this is not Debian)"
	msg "installing:$missing"
	# keep the packages' own daemons from starting in the root namespace
	local prc=/usr/sbin/policy-rc.d made=""
	if [ ! -e $prc ]; then
		printf '#!/bin/sh\nexit 101\n' >$prc && chmod 755 $prc && made=1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2 || msg "apt-get update failed (trying the install anyway)"
	apt-get install -y -qq --no-install-recommends $missing >&2
	p=$?
	[ -n "$made" ] && rm -f $prc
	[ $p = 0 ] || die "apt-get install failed"
	# a package's init script may still have started something: we don't use those
}

# Postfix conflicts with exim4 as a Debian package, so it is never
# installed: its .deb is fetched with `apt-get download` into $PF_CACHE and
# unpacked there with dpkg-deb -x; the lab runs that copy's master(8) with
# a generated configuration.  The shared libraries it needs (its Depends:
# lib* packages) are installed with apt-get when missing, and the users it
# runs as (postfix, group postdrop) are created when missing.
PF_CACHE=${MXLAB_CACHE:-/var/cache/mxlab}
PF_ROOT=$PF_CACHE/postfix-root
PF_LIB=$PF_ROOT/usr/lib/postfix
PF_DAEMON=$PF_LIB/sbin

ensure_postfix() {
	[ -x "$PF_DAEMON/master" ] && [ -x "$PF_DAEMON/smtpd" ] || unpack_debs "$PF_ROOT" postfix
	unpacked_libs "$PF_ROOT" "$PF_LIB" "$(ls "$PF_CACHE"/postfix_*.deb | head -1)" \
		"$PF_DAEMON"/master "$PF_DAEMON"/smtpd "$PF_DAEMON"/smtp "$PF_DAEMON"/cleanup \
		"$PF_DAEMON"/qmgr "$PF_DAEMON"/trivial-rewrite "$PF_DAEMON"/postlogd "$PF_LIB"/*.so
	postfix_users
}

postfix_users() {
	getent group postdrop >/dev/null || groupadd --system postdrop || die "groupadd postdrop failed"
	getent passwd postfix >/dev/null ||
		useradd --system --user-group --no-create-home --home-dir /nonexistent \
			--shell /usr/sbin/nologin postfix || die "useradd postfix failed"
}

# unpacked_libs ROOT LIBDIR DEB BIN...: install the lib* packages of DEB's
# Depends: when one of BIN... lacks a shared library (apt-get only then)
unpacked_libs() {
	local root=$1 libdir=$2 deb=$3 nf p missing=""
	shift 3
	nf=$(for p in "$@"; do
		LD_LIBRARY_PATH=$libdir ldd "$p" 2>/dev/null | sed -n 's/^[[:space:]]*\([^ ]*\) => not found.*/\1/p'
	done | sort -u)
	[ -z "$nf" ] && return 0
	for p in $(dpkg-deb -f "$deb" Depends 2>/dev/null | tr ',|' '\n\n' |
		sed -n 's/^[[:space:]]*\(lib[a-z0-9.+-]*\).*/\1/p' | sort -u); do
		dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
	done
	[ -n "$missing" ] || die "$root lacks$(echo $nf | sed 's/^/ /') and no package of its Depends: provides them"
	[ "${MXLAB_NO_INSTALL:-0}" = 1 ] && die "$root lacks libraries: missing packages:$missing (MXLAB_NO_INSTALL=1)"
	msg "installing libraries:$missing"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >&2 ||
		die "apt-get install$missing failed"
}

# unpack_debs ROOT PKG...: apt-get download PKG... into $PF_CACHE and
# unpack them all into ROOT (nothing is installed)
unpack_debs() {
	local root=$1 p deb
	shift
	[ "${MXLAB_NO_INSTALL:-0}" = 1 ] && die "no unpacked $* in $root (MXLAB_NO_INSTALL=1)"
	[ -r /etc/debian_version ] || die "no unpacked $* in $root (and this is not Debian)"
	mkdir -p "$PF_CACHE" || die "cannot create $PF_CACHE"
	msg "fetching $* into $PF_CACHE (apt-get download; not installed)"
	(cd "$PF_CACHE" && for p in "$@"; do rm -f "${p}"_*.deb; done &&
		{ apt-get download -o APT::Sandbox::User=root "$@" >&2 ||
			{ apt-get update -qq >&2 && apt-get download -o APT::Sandbox::User=root "$@" >&2; }; }) ||
		die "apt-get download $* failed"
	rm -rf "$root.new"
	for p in "$@"; do
		deb=$(ls "$PF_CACHE/${p}"_*.deb 2>/dev/null | head -1)
		[ -n "$deb" ] && dpkg-deb -x "$deb" "$root.new" || die "cannot unpack $p"
	done
	rm -rf "$root" && mv "$root.new" "$root" || die "cannot move $root.new"
}

# sendmail (8.17) for the IP-literal smart host of incident 6: like postfix,
# it conflicts with exim4, so it is unpacked, not installed (with m4 and
# sendmail-cf to build its sendmail.cf from a generated .mc)
SM_ROOT=$PF_CACHE/sendmail-root
SM_BIN=$SM_ROOT/usr/libexec/sendmail/sendmail
SM_CF=$SM_ROOT/usr/share/sendmail/cf

ensure_sendmail() {
	[ -x "$SM_BIN" ] && [ -x "$SM_ROOT/usr/bin/m4" ] && [ -r "$SM_CF/m4/cf.m4" ] ||
		unpack_debs "$SM_ROOT" sendmail-bin sendmail-base sendmail-cf m4
	unpacked_libs "$SM_ROOT" "" "$(ls "$PF_CACHE"/sendmail-bin_*.deb | head -1)" "$SM_BIN" "$SM_ROOT/usr/bin/m4"
}

# one lab at a time on a machine: the namespace names are fixed
LOCK=/tmp/mxlab.lock
take_lock() { # wait|nowait
	exec 9>>"$LOCK" || die "cannot open $LOCK"
	flock -n 9 && return 0
	[ "$1" = wait ] || die "another lab run is going on (it holds $LOCK)"
	msg "another lab run is going on (it holds $LOCK): waiting for it"
	flock -w "${MXLAB_LOCK_WAIT:-1200}" 9 || die "gave up waiting for $LOCK"
}

# ---------------------------------------------------------------------------
# processes: started in the background, remembered by PID, stopped by PID

# spawn NAME NS CMD... : run CMD in namespace NS, output to $S/logs/NAME.log
spawn() {
	local name=$1 ns=$2
	shift 2
	ip netns exec "$ns" "$@" >"$S/logs/$name.log" 2>&1 9>&- &
	local pid=$!
	PIDS="$PIDS $pid"
	echo "$pid $name" >>"$T/pids"
	eval "PID_$(echo "$name" | tr -c 'a-zA-Z0-9\n' _)=$pid"
	echo $pid
}

pid_of() { eval "echo \${PID_$(echo "$1" | tr -c 'a-zA-Z0-9\n' _):-}"; }

# stop_pid PID [SIGNAL]: signal, wait up to 5 s, then SIGKILL
stop_pid() {
	local pid=$1 sig=${2:-TERM} i
	kill -0 "$pid" 2>/dev/null || {
		wait "$pid" 2>/dev/null
		return 0
	}
	kill -"$sig" "$pid" 2>/dev/null
	for i in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || break
		# reap if it is our child
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

stop_all() {
	local pid rev=""
	for pid in $PIDS; do rev="$pid $rev"; done
	for pid in $rev; do stop_pid "$pid"; done
	PIDS=""
}

# every process still inside one of our namespaces (children of servers,
# e.g. exim's delivery processes) is stopped by its PID
kill_ns_pids() {
	local ns pids pid
	for ns in $ALL_NS; do
		ip netns list 2>/dev/null | grep -qw "^$ns" || continue
		pids=$(ip netns pids "$ns" 2>/dev/null)
		for pid in $pids; do kill -TERM "$pid" 2>/dev/null; done
	done
	sleep 0.3
	for ns in $ALL_NS; do
		ip netns list 2>/dev/null | grep -qw "^$ns" || continue
		pids=$(ip netns pids "$ns" 2>/dev/null)
		for pid in $pids; do kill -KILL "$pid" 2>/dev/null; done
	done
}

# wait_for TIMEOUT_S CMD... : poll CMD until it succeeds
wait_for() {
	local t=$1 i
	shift
	for i in $(seq $((t * 10))); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

listening() { # NS tcp|udp PORT ADDR
	ip netns exec "$1" ss -Hln --"$2" "sport = :$3" 2>/dev/null | grep -q -F "$4"
}

# ---------------------------------------------------------------------------
# network

net_down() {
	local ns
	kill_ns_pids
	for ns in $ALL_NS; do
		ip netns list 2>/dev/null | grep -qw "^$ns" && ip netns del "$ns" 2>/dev/null
	done
	return 0
}

ns_new() {
	ip netns add "$1" || return 1
	ip -n "$1" link set lo up
	ip netns exec "$1" sysctl -qw net.ipv6.conf.default.router_solicitations=0 \
		net.ipv6.conf.all.router_solicitations=0 net.ipv6.conf.default.accept_ra=0 \
		net.ipv6.conf.all.accept_ra=0 >/dev/null 2>&1
	return 0
}

offload_off() { # NS IFACE: segments as a real NIC puts them on the wire
	ip netns exec "$1" ethtool -K "$2" tso off gso off gro off tx off >/dev/null 2>&1 ||
		msg "warning: ethtool -K $2 in $1 failed"
}

# attach NS PORTNAME: veth pair, eth0 in NS, PORTNAME on the bridge
attach() {
	ip -n $NS_LAN link add "$2" type veth peer name eth0 netns "$1" || return 1
	ip -n $NS_LAN link set "$2" master br0 up
	offload_off $NS_LAN "$2"
	offload_off "$1" eth0
	ip -n "$1" link set eth0 up
}

net_up() {
	local ns a
	net_down
	for ns in $BASE_NS; do ns_new "$ns" || return 1; done
	ip netns exec $NS_LAN sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 >/dev/null
	ip -n $NS_LAN link add br0 type bridge forward_delay 0 stp_state 0 || return 1
	ip -n $NS_LAN link set br0 up
	attach $NS_CLIENT p-client && attach $NS_MAIL p-mail && attach $NS_RES p-resolver &&
		attach $NS_INET p-inet || return 1
	for a in 200 201 202 203 204; do ip -n $NS_CLIENT addr add 192.0.2.$a/24 dev eth0; done
	ip -n $NS_CLIENT addr add $CLIENT6/64 dev eth0 nodad
	ip -n $NS_MAIL addr add $MAIL4/24 dev eth0
	ip -n $NS_MAIL addr add $MAIL6/64 dev eth0 nodad
	ip -n $NS_RES addr add $RES4/24 dev eth0
	ip -n $NS_INET addr add $GW4/24 dev eth0
	# the mail host and the resolver reach the "internet" through the router;
	# no namespace has a default route, none has a route to the host
	for ns in $NS_MAIL $NS_RES; do
		ip -n $ns route add 198.51.100.0/24 via $GW4
		ip -n $ns route add 203.0.113.0/24 via $GW4
	done
	# the internet: ARP is answered (so packets really go on the wire), every
	# IP packet is dropped without a word
	ip netns exec $NS_INET nft -f - <<'EOF' || return 1
table inet blackhole {
	chain pre {
		type filter hook prerouting priority -300; policy drop;
	}
}
EOF
	return 0
}

# mail2_up: the second mail host of the mirror-* scenarios, 192.0.2.11 in
# mxlab-mail2 on the same bridge (like the first, it reaches the "internet"
# only through the router)
mail2_up() {
	ns_new $NS_MAIL2 && attach $NS_MAIL2 p-mail2 || return 1
	ip -n $NS_MAIL2 addr add $MAIL2_4/24 dev eth0
	ip -n $NS_MAIL2 route add 198.51.100.0/24 via $GW4
	ip -n $NS_MAIL2 route add 203.0.113.0/24 via $GW4
}

client_firewall() { # drop|reject: what the client does to ident (TCP 113)
	local verdict=drop
	[ "$1" = reject ] && verdict="reject with tcp reset"
	ip netns exec $NS_CLIENT nft -f - <<EOF
table inet fw {
	chain input {
		type filter hook input priority 0; policy accept;
		tcp dport 113 $verdict
	}
}
EOF
}

# ---------------------------------------------------------------------------
# configuration generators

# unbound_conf DIR LISTEN ACCESS_NET EXTRA...: a recursive unbound whose
# root servers are in the dead internet
unbound_conf() {
	local d=$1 listen=$2 acl=$3
	shift 3
	mkdir -p "$d"
	cat >"$d/root.hints" <<EOF
.                 3600000  NS  A.ROOT.LAB.
A.ROOT.LAB.       3600000  A   $ROOT1
.                 3600000  NS  B.ROOT.LAB.
B.ROOT.LAB.       3600000  A   $ROOT2
EOF
	{
		cat <<EOF
# generated by mxlag examples/lab/lab.sh
server:
	interface: $listen
	port: 53
	access-control: 0.0.0.0/0 refuse
	access-control: $acl allow
	do-daemonize: no
	username: ""
	chroot: ""
	directory: "$d"
	pidfile: "$d/unbound.pid"
	use-syslog: no
	logfile: ""
	verbosity: 1
	log-servfail: yes
	num-threads: 1
	so-reuseport: no
	do-ip6: no
	module-config: "iterator"
	root-hints: "$d/root.hints"
	qname-minimisation: no
	prefetch: no
	minimal-responses: yes
EOF
		for l in "$@"; do printf '\t%s\n' "$l"; done
	} >"$d/unbound.conf"
}

# the reverse zone of the lab network, as the scenarios need it
ZONE_NONE='local-zone: "2.0.192.in-addr.arpa." nodefault'
ZONE_EMPTY='local-zone: "2.0.192.in-addr.arpa." static'
ZONE_SOA='local-data: "2.0.192.in-addr.arpa. 3600 IN SOA ns.example.org. hostmaster.example.org. 1 3600 600 86400 300"'

start_resolver() { # EXTRA unbound.conf lines...
	unbound_conf "$S/unbound" $RES4 192.0.2.0/24 "$@"
	spawn unbound $NS_RES unbound -d -c "$S/unbound/unbound.conf" >/dev/null
	wait_for 10 listening $NS_RES udp 53 $RES4 || {
		msg "unbound did not start: $(tail -3 "$S/logs/unbound.log")"
		return 1
	}
}

# mail_env NAMESERVER [nohostname]: resolv.conf and hosts for programs in
# the mail namespace, bind-mounted over /etc inside that program's own mount
# namespace (ip netns exec makes one), never touching the host's files; the
# programs also get their own UTS namespace with the host name "mx", which
# /etc/hosts knows (as on a well-kept host) unless "nohostname" is given;
# they are started through $S/mailhost/run
mail_env() { host_env "$S/mailhost" mx "$@"; }

# host_env DIR NAME NAMESERVER [nohostname]: the same for a host named NAME
# (NAME.example.org), started through DIR/run
host_env() {
	local d=$1 name=$2
	shift 2
	mkdir -p "$d"
	printf 'nameserver %s\noptions timeout:2 attempts:2\n' "$1" >"$d/resolv.conf"
	{
		printf '127.0.0.1\tlocalhost\n'
		[ "${2:-}" = nohostname ] || printf '127.0.1.1\t%s.example.org %s\n' "$name" "$name"
		printf '::1\tlocalhost ip6-localhost ip6-loopback\n'
	} >"$d/hosts"
	cat >"$d/run" <<EOF
#!/bin/sh
mount --bind "$d/resolv.conf" /etc/resolv.conf || exit 1
mount --bind "$d/hosts" /etc/hosts || exit 1
exec unshare --uts /bin/sh -c 'hostname $name && exec "\$@"' sh "\$@"
EOF
	chmod 755 "$d/run"
}

# a self-signed certificate for the lab's TLS scenarios: DIR/cert.pem,
# DIR/key.pem (readable by GROUP)
lab_cert() { # DIR GROUP
	mkdir -p "$1"
	openssl req -x509 -newkey rsa:2048 -nodes -days 7 -subj /CN=mx.example.org \
		-keyout "$1/key.pem" -out "$1/cert.pem" >/dev/null 2>&1 || return 1
	chgrp "$2" "$1/key.pem" "$1/cert.pem" && chmod 640 "$1/key.pem"
}

# exim_conf: the knobs are shell variables
#   X_IDENT (ident timeout, 0s = off), X_ACL_CONNECT, X_ACL_MAIL, X_ACL_RCPT, X_ACL_DATA,
#   X_TLS=1 (STARTTLS on 25 and TLS on connect on 465),
#   X_MAIN (extra main options), X_LOCAL (the local router's options, default
#   data = :blackhole:), X_CONNECT_TIMEOUT (remote_smtp, default 4s),
#   X_SMTP (extra remote_smtp options), X_QUEUE (the daemon's queue runner
#   option, e.g. -q1s; default none)
exim_conf() {
	local d=$S/exim ports=25
	[ -n "${X_TLS:-}" ] && ports="25 : 465"
	mkdir -p "$d/spool" "$d/log"
	chown -R Debian-exim:Debian-exim "$d/spool" "$d/log"
	cat >"$d/exim.conf" <<EOF
# generated by mxlag examples/lab/lab.sh (scenario $SC)
primary_hostname = mx.example.org
exim_user = Debian-exim
exim_group = Debian-exim
never_users = root
spool_directory = $d/spool
log_file_path = $d/log/%slog
pid_file_path = $d/exim.pid
keep_environment =
daemon_smtp_ports = $ports
local_interfaces = <; $MAIL4 ; $MAIL6
${X_TLS:+tls_certificate = $d/tls/cert.pem
tls_privatekey = $d/tls/key.pem
tls_advertise_hosts = *
tls_on_connect_ports = 465}
domainlist local_domains = example.org
hostlist relay_from_hosts = <; 127.0.0.1 ; 192.0.2.0/24 ; 2001:db8::/64
host_lookup = *
rfc1413_hosts = *
rfc1413_query_timeout = ${X_IDENT:-0s}
dns_retrans = ${X_DNS_RETRANS:-2s}
dns_retry = ${X_DNS_RETRY:-2}
log_selector = +smtp_connection +incoming_interface +outgoing_interface +pid +received_recipients
timeout_frozen_after = 1d
acl_smtp_connect = acl_connect
acl_smtp_mail = acl_mail
acl_smtp_rcpt = acl_rcpt
acl_smtp_data = acl_data
${X_MAIN:-}

begin acl

acl_connect:
${X_ACL_CONNECT:-}
  accept

acl_mail:
${X_ACL_MAIL:-}
  accept

acl_rcpt:
${X_ACL_RCPT:-}
  accept  domains = +local_domains
  accept  hosts = +relay_from_hosts
  deny    message = relay not permitted

acl_data:
${X_ACL_DATA:-}
  accept

begin routers

remote:
  driver = dnslookup
  domains = ! +local_domains
  transport = remote_smtp
  no_more

local:
  driver = redirect
  domains = +local_domains
${X_LOCAL:-  data = :blackhole:}

begin transports

remote_smtp:
  driver = smtp
  # without TCP Fast Open, so that connect_timeout (not the 5 min
  # command_timeout) ends the wait for an MX that never answers
  hosts_try_fastopen = :
  connect_timeout = ${X_CONNECT_TIMEOUT:-4s}
${X_SMTP:-}

begin retry

*  *  F,1h,10m
EOF
}

start_exim() {
	exim_conf
	if [ -n "${X_TLS:-}" ]; then
		lab_cert "$S/exim/tls" Debian-exim || return 1
	fi
	spawn exim $NS_MAIL "$S/mailhost/run" exim4 -C "$S/exim/exim.conf" -bdf ${X_QUEUE:-} -oX "$(if [ -n "${X_TLS:-}" ]; then echo 25:465; else echo 25; fi)" >/dev/null
	wait_for 10 listening $NS_MAIL tcp 25 $MAIL4 || {
		msg "exim did not start: $(tail -3 "$S/logs/exim.log") $(tail -3 "$S/exim/log/paniclog" 2>/dev/null)"
		return 1
	}
}

start_tcpserver() { # extra tcpserver options
	cp "$LAB_DIR/pop3d.sh" "$S/pop3d.sh"
	chmod 755 "$S/pop3d.sh"
	spawn tcpserver $NS_MAIL "$S/mailhost/run" tcpserver -v -c 20 -t 5 "$@" $MAIL4 110 "$S/pop3d.sh" >/dev/null
	wait_for 10 listening $NS_MAIL tcp 110 $MAIL4 || {
		msg "tcpserver did not start: $(tail -3 "$S/logs/tcpserver.log")"
		return 1
	}
}

start_dovecot() {
	local d=$S/dovecot ssl_conf="ssl = no"
	# D_TLS=1: POP3S on 995 only (TLS from the connect)
	[ -n "${D_TLS:-}" ] && ssl_conf="ssl = required
ssl_cert = <$d/tls/cert.pem
ssl_key = <$d/tls/key.pem
service pop3-login {
  inet_listener pop3 {
    port = 0
  }
  inet_listener pop3s {
    port = 995
    ssl = yes
  }
}"
	mkdir -p "$d/run" "$d/state" "$d/mail/alice"
	cat >"$d/mail/alice/inbox" <<'EOF'
From a@good.example Mon Jan  1 00:00:00 2024
From: <a@good.example>
To: <alice@example.org>
Subject: mxlag lab

Hello from the lab.

EOF
	chown -R mail:mail "$d/mail"
	cat >"$d/dovecot.conf" <<EOF
# generated by mxlag examples/lab/lab.sh
base_dir = $d/run
state_dir = $d/state
log_path = $d/dovecot.log
protocols = pop3
listen = $MAIL4
$ssl_conf
disable_plaintext_auth = no
auth_mechanisms = plain
login_greeting = mxlab POP3 (dovecot) ready.
first_valid_uid = 8
first_valid_gid = 8
default_internal_user = dovecot
default_login_user = dovenull
mail_location = mbox:$d/mail/%u:INBOX=$d/mail/%u/inbox
pop3_uidl_format = %08Xu%08Xv
passdb {
  driver = static
  args = password=s3cret
}
userdb {
  driver = static
  args = uid=mail gid=mail home=$d/mail/%u
}
EOF
	if [ -n "${D_TLS:-}" ]; then
		lab_cert "$d/tls" dovecot || return 1
	fi
	spawn dovecot $NS_MAIL "$S/mailhost/run" /usr/sbin/dovecot -F -c "$d/dovecot.conf" >/dev/null
	wait_for 10 listening $NS_MAIL tcp "$(if [ -n "${D_TLS:-}" ]; then echo 995; else echo 110; fi)" $MAIL4 || {
		msg "dovecot did not start: $(tail -3 "$S/logs/dovecot.log") $(tail -3 "$d/dovecot.log" 2>/dev/null)"
		return 1
	}
}

# postfix_conf: main.cf and master.cf for the unpacked postfix, every
# directory inside the scenario's; the knobs are shell variables
#   P_MAIN (extra main.cf lines), P_MASTER (extra master.cf lines),
#   P_ADDR (its address, default $MAIL4), P_NAME (its host name, default mx),
#   P_NS and P_ENV (namespace and host_env directory, default the mail host's)
postfix_conf() {
	local d=$S/postfix q
	mkdir -p "$d/etc" "$d/data" "$d/queue"
	for q in incoming active deferred bounce defer trace flush hold corrupt saved maildrop private public pid; do
		mkdir -p "$d/queue/$q"
	done
	chown -R postfix:postfix "$d/data" "$d/queue"
	chown root:root "$d/queue" "$d/queue/pid"
	chgrp postdrop "$d/queue/maildrop" "$d/queue/public"
	chmod 730 "$d/queue/maildrop"
	chmod 710 "$d/queue/public"
	chmod 700 "$d/queue/private"
	cat >"$d/etc/main.cf" <<EOF
# generated by mxlag examples/lab/lab.sh (scenario $SC); postfix unpacked in $PF_ROOT
compatibility_level = 3.6
config_directory = $d/etc
meta_directory = $d/etc
queue_directory = $d/queue
data_directory = $d/data
daemon_directory = $PF_DAEMON
command_directory = $PF_ROOT/usr/sbin
shlib_directory = $PF_LIB
mail_owner = postfix
setgid_group = postdrop
import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C POSTLOG_SERVICE POSTLOG_HOSTNAME LD_LIBRARY_PATH
maillog_file_prefixes = $d
maillog_file = $d/maillog
myhostname = ${P_NAME:-mx}.example.org
mydomain = example.org
myorigin = \$myhostname
mydestination = example.org
inet_interfaces = ${P_ADDR:-$MAIL4}
inet_protocols = ipv4
mynetworks = 127.0.0.0/8 192.0.2.0/24
alias_maps =
alias_database =
local_recipient_maps =
relay_domains =
transport_maps =
smtputf8_enable = no
biff = no
smtp_tls_security_level = none
smtpd_tls_security_level = none
smtpd_banner = \$myhostname ESMTP mxlab (postfix)
local_transport = discard
default_transport = smtp
delay_warning_time = 0
EOF
	[ -n "${P_MAIN:-}" ] && printf '%s\n' "$P_MAIN" >>"$d/etc/main.cf"
	cat >"$d/etc/master.cf" <<EOF
# generated by mxlag examples/lab/lab.sh: nothing chrooted
# service      type  private unpriv chroot wakeup maxproc command
${P_ADDR:-$MAIL4}:25    inet  n       -      n      -      -       smtpd
pickup         unix  n       -      n      60     1       pickup
cleanup        unix  n       -      n      -      0       cleanup
qmgr           unix  n       -      n      300    1       qmgr
rewrite        unix  -       -      n      -      -       trivial-rewrite
bounce         unix  -       -      n      -      0       bounce
defer          unix  -       -      n      -      0       bounce
trace          unix  -       -      n      -      0       bounce
verify         unix  -       -      n      -      1       verify
flush          unix  n       -      n      1000?  0       flush
proxymap       unix  -       -      n      -      -       proxymap
smtp           unix  -       -      n      -      -       smtp
relay          unix  -       -      n      -      -       smtp
showq          unix  n       -      n      -      -       showq
error          unix  -       -      n      -      -       error
retry          unix  -       -      n      -      -       error
discard        unix  -       -      n      -      -       discard
anvil          unix  -       -      n      -      1       anvil
scache         unix  -       -      n      -      1       scache
postlog        unix-dgram n  -      n      -      1       postlogd
EOF
	[ -n "${P_MASTER:-}" ] && printf '%s\n' "$P_MASTER" >>"$d/etc/master.cf"
	return 0
}

start_postfix() {
	postfix_conf
	spawn postfix "${P_NS:-$NS_MAIL}" "${P_ENV:-$S/mailhost}/run" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
		LD_LIBRARY_PATH="$PF_LIB" MAIL_CONFIG="$S/postfix/etc" \
		"$PF_DAEMON/master" -d -c "$S/postfix/etc" >/dev/null
	wait_for 10 listening "${P_NS:-$NS_MAIL}" tcp 25 "${P_ADDR:-$MAIL4}" || {
		msg "postfix did not start: $(tail -3 "$S/logs/postfix.log") $(tail -3 "$S/postfix/maillog" 2>/dev/null)"
		return 1
	}
}

# sendmail_conf: sendmail.cf built with m4 from a generated .mc; the knob
#   M_MC (extra .mc lines)
sendmail_conf() {
	local d=$S/sendmail
	mkdir -p "$d/queue" "$d/etc"
	chmod 700 "$d/queue"
	: >"$d/etc/local-host-names"
	printf 'hosts\tfiles dns\naliases\tfiles\n' >"$d/etc/service.switch"
	cat >"$d/sendmail.mc" <<EOF
divert(-1)
# generated by mxlag examples/lab/lab.sh (scenario $SC); sendmail unpacked in $SM_ROOT
divert(0)dnl
VERSIONID(\`mxlab')dnl
OSTYPE(\`linux')dnl
define(\`confDOMAIN_NAME', \`mx.example.org')dnl
define(\`confDONT_PROBE_INTERFACES', \`true')dnl
define(\`QUEUE_DIR', \`$d/queue')dnl
define(\`confPID_FILE', \`$d/sendmail.pid')dnl
define(\`STATUS_FILE', \`$d/statistics')dnl
define(\`ALIAS_FILE', \`')dnl
define(\`confCW_FILE', \`-o $d/etc/local-host-names')dnl
define(\`confSERVICE_SWITCH_FILE', \`$d/etc/service.switch')dnl
define(\`confDEF_USER_ID', \`8:8')dnl
define(\`confTO_IDENT', \`0s')dnl
define(\`confLOG_LEVEL', \`9')dnl
FEATURE(\`promiscuous_relay')dnl
FEATURE(\`accept_unresolvable_domains')dnl
${M_MC:-}
DAEMON_OPTIONS(\`Port=25, Addr=$MAIL4, Name=MTA')dnl
MAILER(\`local')dnl
MAILER(\`smtp')dnl
EOF
	"$SM_ROOT/usr/bin/m4" -D_CF_DIR_="$SM_CF/" "$SM_CF/m4/cf.m4" "$d/sendmail.mc" >"$d/sendmail.cf" 2>"$S/logs/m4.log" || {
		msg "m4 failed: $(tail -3 "$S/logs/m4.log")"
		return 1
	}
	chmod 644 "$d/sendmail.cf"
}

start_sendmail() {
	sendmail_conf || return 1
	spawn sendmail $NS_MAIL "$S/mailhost/run" "$SM_BIN" -bD -C "$S/sendmail/sendmail.cf" >/dev/null
	wait_for 10 listening $NS_MAIL tcp 25 $MAIL4 || {
		msg "sendmail did not start: $(tail -3 "$S/logs/sendmail.log")"
		return 1
	}
}

# start_sink ARGS...: a remote MX that answers, at $SINK_MX in the
# "internet" namespace (the only address there that gets through)
start_sink() {
	ip -n $NS_INET addr add $SINK_MX/32 dev eth0 || return 1
	ip netns exec $NS_INET nft insert rule inet blackhole pre ip daddr $SINK_MX tcp dport 25 accept || return 1
	spawn sink $NS_INET $PY "$LAB_DIR/smtpsink.py" --listen $SINK_MX "$@" >/dev/null
	wait_for 10 listening $NS_INET tcp 25 $SINK_MX || {
		msg "smtpsink did not start: $(tail -3 "$S/logs/sink.log")"
		return 1
	}
}

# start_filter DELAY: slowfilter.py in the second mail host, postfix's
# before-queue content filter (smtpd_proxy_filter 127.0.0.1:10025, passing
# on to the smtpd on 127.0.0.1:10026), holding each final dot DELAY seconds
start_filter() {
	spawn filter $NS_MAIL2 $PY "$LAB_DIR/slowfilter.py" --listen 127.0.0.1:10025 \
		--next 127.0.0.1:10026 --delay "$1" >/dev/null
	wait_for 10 listening $NS_MAIL2 tcp 10025 127.0.0.1 || {
		msg "slowfilter did not start: $(tail -3 "$S/logs/filter.log")"
		return 1
	}
}

# ---------------------------------------------------------------------------
# capture and clients

# CAP_BUFFER: tcpdump -B (KiB), for a big transfer; CAP_IMMEDIATE=1:
# --immediate-mode, for traffic that goes on until the capture is stopped
# (otherwise the packets of the last, partly filled TPACKET_V3 block are
# lost at SIGINT: "received by filter" then exceeds "captured")
start_capture() { # IFACE [NAMESPACE, default the mail host's]
	spawn tcpdump "${2:-$NS_MAIL}" tcpdump -i "$1" -n -s 0 -U ${CAP_BUFFER:+-B $CAP_BUFFER} \
		${CAP_IMMEDIATE:+--immediate-mode} -Z root -w "$OUT/$SC.pcap" >/dev/null
	wait_for 10 grep -q "listening on" "$S/logs/tcpdump.log" || {
		msg "tcpdump did not start: $(cat "$S/logs/tcpdump.log")"
		return 1
	}
	sleep 1
}

stop_capture() {
	sleep 1
	stop_pid "$(pid_of tcpdump)" INT
	grep -E 'packets (captured|received|dropped)' "$S/logs/tcpdump.log" | tr '\n' ' ' | sed 's/^/  tcpdump: /' >&2
	echo >&2
}

# client NAME ARGS...: run mxclient in the client namespace and wait for it
# (in the background + wait, so that a signal to the lab is handled at once)
client() {
	local name=$1 rc
	shift
	spawn "$name" $NS_CLIENT $PY "$LAB_DIR/mxclient.py" "$@" >/dev/null
	wait "$(pid_of "$name")"
	rc=$?
	msg "  $name: exit $rc, $(tail -1 "$S/logs/$name.log")"
	return 0
}

# client_bg NAME ARGS...: the same in the background (for concurrent clients)
client_bg() {
	local name=$1
	shift
	spawn "$name" $NS_CLIENT $PY "$LAB_DIR/mxclient.py" "$@" >/dev/null
}

truth() { cat >"$OUT/$SC.truth.json"; }

# ---------------------------------------------------------------------------
# scenarios: each sets up its servers, starts the capture, runs its clients
# and writes its truth; the frame (network, teardown) is in run_one

sc_ptr_timeout() {
	start_resolver "$ZONE_NONE" && mail_env $RES4 && start_exim && start_capture eth0 || return 1
	client smtp --source $CLIENT4 --server $MAIL4
	truth <<'EOF'
{"scenario": "ptr-timeout", "server": "exim 4.96", "resolver": "192.0.2.53",
 "note": "no reverse zone for 192.0.2.0/24 on the resolver: exim's PTR query is never answered (dns_retrans 2s, dns_retry 2)",
 "sessions": [{"client": "192.0.2.200", "protocol": "smtp",
   "slow": [{"command": "GREETING", "causes": [
     {"kind": "dns", "relation": "client-ptr", "qname": "200.2.0.192.in-addr.arpa", "outcome": "unanswered"}]}]}],
 "dns": [{"qname": "200.2.0.192.in-addr.arpa", "outcome": "unanswered"}],
 "sql": [["select count(*) from sessions where protocol = 'smtp' and software is not 'exim'", "=", 0],
         ["select count(*) from causes where relation = 'client-ptr' and parent_id is null and remedy like '%Exim''s host_lookup%'", ">=", 1]]}
EOF
}

sc_ptr_fixed() {
	start_resolver "$ZONE_EMPTY" "$ZONE_SOA" && mail_env $RES4 && start_exim && start_capture eth0 || return 1
	client smtp --source $CLIENT4 --server $MAIL4
	truth <<'EOF'
{"scenario": "ptr-fixed", "server": "exim 4.96", "resolver": "192.0.2.53",
 "note": "the resolver serves an empty 2.0.192.in-addr.arpa zone: fast NXDOMAIN",
 "sessions": [{"client": "192.0.2.200", "protocol": "smtp", "slow": []}],
 "dns": [{"qname": "200.2.0.192.in-addr.arpa", "outcome": "nxdomain"}]}
EOF
}

sc_ident_dropped() {
	client_firewall drop || return 1
	X_IDENT=5s
	start_resolver "$ZONE_EMPTY" "$ZONE_SOA" && mail_env $RES4 && start_exim && start_capture eth0 || return 1
	client smtp --source $CLIENT4 --server $MAIL4
	truth <<'EOF'
{"scenario": "ident-dropped", "server": "exim 4.96 (rfc1413_query_timeout 5s)",
 "note": "the client's firewall drops TCP 113: exim's ident probe gets no answer (SYNs only)",
 "sessions": [{"client": "192.0.2.200", "protocol": "smtp",
   "slow": [{"command": "GREETING", "causes": [{"kind": "ident", "outcome": "unanswered"}]}]}],
 "ident": [{"outcome": "unanswered"}],
 "dns": [{"qname": "200.2.0.192.in-addr.arpa", "outcome": "nxdomain"}],
 "sql": [["select count(*) from sessions where protocol = 'smtp' and software is not 'exim'", "=", 0],
         ["select count(*) from causes where kind = 'ident' and remedy like '%rfc1413_query_timeout = 0s%'", ">=", 1]]}
EOF
}

sc_ident_rejected() {
	client_firewall reject || return 1
	X_IDENT=5s
	start_resolver "$ZONE_EMPTY" "$ZONE_SOA" && mail_env $RES4 && start_exim && start_capture eth0 || return 1
	client smtp --source $CLIENT4 --server $MAIL4
	truth <<'EOF'
{"scenario": "ident-rejected", "server": "exim 4.96 (rfc1413_query_timeout 5s)",
 "note": "the client's firewall rejects TCP 113 with a reset: ident refused at once",
 "sessions": [{"client": "192.0.2.200", "protocol": "smtp", "slow": []}],
 "ident": [{"outcome": "refused"}]}
EOF
}

sc_tcpserver_pop3() {
	client_firewall drop || return 1
	start_resolver "$ZONE_NONE" && mail_env $RES4 && start_tcpserver && start_capture eth0 || return 1
	client pop3 --proto pop3 --source $CLIENT4 --server $MAIL4
	truth <<'EOF'
{"scenario": "tcpserver-pop3", "server": "tcpserver 0.88 -t 5 (no -H -R -l)", "resolver": "192.0.2.53",
 "note": "tcpserver looks up the PTR of its own address, then of the client (djbdns timeouts 1+3+11+45 s each), then asks the client's identd, whose port the client's firewall drops",
 "sessions": [{"client": "192.0.2.200", "protocol": "pop3",
   "slow": [{"command": "GREETING", "causes": [
     {"kind": "dns", "relation": "self-ptr", "qname": "10.2.0.192.in-addr.arpa", "outcome": "unanswered"},
     {"kind": "dns", "relation": "client-ptr", "qname": "200.2.0.192.in-addr.arpa", "outcome": ["servfail", "unanswered"]},
     {"kind": "ident", "outcome": "unanswered"}]}]}],
 "ident": [{"outcome": "unanswered"}],
 "sql": [["select count(*) from replies where argument like '%s3cret%'", "=", 0]]}
EOF
}

sc_tcpserver_pop3_fixed() {
	client_firewall drop || return 1
	start_resolver "$ZONE_NONE" && mail_env $RES4 && start_tcpserver -H -R -l mx.example.org &&
		start_capture eth0 || return 1
	client pop3 --proto pop3 --source $CLIENT4 --server $MAIL4
	truth <<'EOF'
{"scenario": "tcpserver-pop3-fixed", "server": "tcpserver 0.88 -t 5 -H -R -l mx.example.org", "resolver": "192.0.2.53",
 "note": "same broken resolver and firewall as tcpserver-pop3, but tcpserver makes no lookups and no ident probe",
 "sessions": [{"client": "192.0.2.200", "protocol": "pop3", "slow": []}],
 "sql": [["select count(*) from dns_queries", "=", 0],
         ["select count(*) from ident_probes", "=", 0],
         ["select count(*) from replies where argument like '%s3cret%'", "=", 0]]}
EOF
}

sc_dovecot_pop3() {
	start_resolver "$ZONE_EMPTY" "$ZONE_SOA" && mail_env $RES4 && start_dovecot && start_capture eth0 || return 1
	client pop3 --proto pop3 --source $CLIENT4 --server $MAIL4
	truth <<'EOF'
{"scenario": "dovecot-pop3", "server": "dovecot 2.3.19",
 "sessions": [{"client": "192.0.2.200", "protocol": "pop3", "slow": []}],
 "sql": [["select count(*) from replies where argument like '%s3cret%'", "=", 0],
         ["select count(*) from sessions where protocol = 'pop3'", ">=", 1],
         ["select count(*) from sessions where protocol = 'pop3' and software is not 'dovecot'", "=", 0]]}
EOF
}

sc_dovecot_selfname() {
	start_resolver "$ZONE_EMPTY" "$ZONE_SOA" && mail_env $RES4 nohostname && start_dovecot &&
		start_capture eth0 || return 1
	client pop3 --proto pop3 --source $CLIENT4 --server $MAIL4
	truth <<'EOF'
{"scenario": "dovecot-selfname", "server": "dovecot 2.3.19 (host name mx not in /etc/hosts)", "resolver": "192.0.2.53",
 "note": "the first pop3-login process resolves the host's own bare name; the resolver recurses for it into the dead internet",
 "sessions": [{"client": "192.0.2.200", "protocol": "pop3",
   "slow": [{"command": "GREETING", "causes": [
     {"kind": "dns", "relation": "self-name", "qname": "mx", "outcome": ["unanswered", "servfail"]}]}]}],
 "sql": [["select count(*) from replies where argument like '%s3cret%'", "=", 0],
         ["select count(*) from sessions where protocol = 'pop3' and software is not 'dovecot'", "=", 0],
         ["select count(*) from causes where relation = 'self-name' and parent_id is null and remedy like '%Dovecot''s login processes%'", ">=", 1]]}
EOF
}

sc_slow_data() {
	X_ACL_DATA='  accept  delay = 4s'
	start_resolver "$ZONE_EMPTY" "$ZONE_SOA" && mail_env $RES4 && start_exim && start_capture eth0 || return 1
	client smtp --source $CLIENT4 --server $MAIL4
	truth <<'EOF'
{"scenario": "slow-data", "server": "exim 4.96 (acl_smtp_data: delay = 4s)",
 "note": "the server itself waits 4 s before answering the end of DATA; no DNS or ident traffic meanwhile",
 "sessions": [{"client": "192.0.2.200", "protocol": "smtp",
   "slow": [{"command": "DATA-END", "causes": [{"kind": "none"}]}]}]}
EOF
}

sc_sender_checks() {
	X_ACL_MAIL='  warn    !verify = sender
          log_message = sender verification failed or deferred'
	start_resolver "$ZONE_EMPTY" "$ZONE_SOA" && mail_env $RES4 && start_exim && start_capture eth0 || return 1
	client smtp --source $CLIENT4 --server $MAIL4 --from someone@slow.example
	truth <<'EOF'
{"scenario": "sender-checks", "server": "exim 4.96 (acl_smtp_mail: verify = sender)", "resolver": "192.0.2.53",
 "note": "the sender domain slow.example lives in a zone the resolver cannot reach: the MX lookup of the sender domain times out",
 "sessions": [{"client": "192.0.2.200", "protocol": "smtp",
   "slow": [{"command": "MAIL", "causes": [
     {"kind": "dns", "relation": "sender-domain", "qname": "slow.example", "outcome": ["unanswered", "servfail"]}]}]}]}
EOF
}

sc_concurrent() {
	local a
	X_IDENT=0s
	set -- 'local-zone: "2.0.192.in-addr.arpa." transparent' 'local-zone: "clients.example." static'
	for a in 200 201 203 204; do
		set -- "$@" "local-data-ptr: \"192.0.2.$a c$a.clients.example\"" \
			"local-data: \"c$a.clients.example. 3600 IN A 192.0.2.$a\""
	done
	start_resolver "$@" && mail_env $RES4 && start_exim && start_capture eth0 || return 1
	for a in 200 201 202 203 204; do
		client_bg c$a --source 192.0.2.$a --server $MAIL4 --helo c$a.clients.example
	done
	for a in 200 201 202 203 204; do
		wait "$(pid_of c$a)"
		msg "  c$a: exit $?, $(tail -1 "$S/logs/c$a.log")"
	done
	truth <<'EOF'
{"scenario": "concurrent", "server": "exim 4.96", "resolver": "192.0.2.53",
 "note": "five clients at once; the resolver knows the PTR (and A) of all but 192.0.2.202, whose PTR it recurses for in vain",
 "sessions": [
   {"client": "192.0.2.200", "protocol": "smtp", "slow": []},
   {"client": "192.0.2.201", "protocol": "smtp", "slow": []},
   {"client": "192.0.2.202", "protocol": "smtp",
    "slow": [{"command": "GREETING", "causes": [
      {"kind": "dns", "relation": "client-ptr", "qname": "202.2.0.192.in-addr.arpa", "outcome": "unanswered"}]}]},
   {"client": "192.0.2.203", "protocol": "smtp", "slow": []},
   {"client": "192.0.2.204", "protocol": "smtp", "slow": []}],
 "dns": [{"qname": "200.2.0.192.in-addr.arpa", "outcome": "answered"},
         {"qname": "c201.clients.example", "outcome": "answered"}]}
EOF
}

sc_ipv6() {
	start_resolver "$ZONE_EMPTY" "$ZONE_SOA" 'local-zone: "8.b.d.0.1.0.0.2.ip6.arpa." nodefault' &&
		mail_env $RES4 && start_exim && start_capture eth0 || return 1
	client smtp --source $CLIENT6 --server $MAIL6
	truth <<'EOF'
{"scenario": "ipv6", "server": "exim 4.96", "resolver": "192.0.2.53",
 "note": "the client connects over IPv6; the resolver has no reverse zone for 2001:db8::/32 and never answers the ip6.arpa PTR query",
 "sessions": [{"client": "2001:db8::200", "protocol": "smtp",
   "slow": [{"command": "GREETING", "causes": [
     {"kind": "dns", "relation": "client-ptr",
      "qname": "0.0.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
      "outcome": "unanswered"}]}]}]}
EOF
}

sc_local_resolver() {
	# unbound on 127.0.0.1 of the mail host, forwarding to the ISP's
	# resolver, which is in the dead internet
	unbound_conf "$S/unbound" 127.0.0.1 127.0.0.0/8 "$ZONE_NONE" \
		'do-not-query-localhost: yes' 'forward-zone:' '	name: "."' "	forward-addr: $ISP_DNS"
	spawn unbound $NS_MAIL unbound -d -c "$S/unbound/unbound.conf" >/dev/null
	wait_for 10 listening $NS_MAIL udp 53 127.0.0.1 || {
		msg "unbound did not start: $(tail -3 "$S/logs/unbound.log")"
		return 1
	}
	mail_env 127.0.0.1 && start_exim && start_capture any || return 1
	client smtp --source $CLIENT4 --server $MAIL4
	truth <<'EOF'
{"scenario": "local-resolver", "server": "exim 4.96", "resolver": "127.0.0.1 (unbound, forwarding to 198.51.100.53)",
 "note": "captured on any: exim's PTR query to the local cache on loopback, and the cache's own queries to 198.51.100.53, which never answers",
 "sessions": [{"client": "192.0.2.200", "protocol": "smtp",
   "slow": [{"command": "GREETING", "causes": [
     {"kind": "dns", "relation": "client-ptr", "qname": "200.2.0.192.in-addr.arpa", "outcome": ["unanswered", "servfail"]}]}]}],
 "sql": [["select count(*) from dns_queries where server = '198.51.100.53' and qname = '200.2.0.192.in-addr.arpa' and outcome = 'unanswered'", ">=", 1],
         ["select count(*) from causes where relation = 'upstream'", ">=", 1]]}
EOF
}

sc_outbound() {
	start_resolver "$ZONE_EMPTY" "$ZONE_SOA" 'local-zone: "remote.example." static' \
		'local-data: "remote.example. 3600 IN MX 10 mx.remote.example."' \
		"local-data: \"mx.remote.example. 3600 IN A $REMOTE_MX\"" &&
		mail_env $RES4 && start_exim && start_capture eth0 || return 1
	client smtp --source $CLIENT4 --server $MAIL4 --rcpt someone@remote.example --size 20000
	# exim delivers at once: MX/A lookups, then SYNs to the MX until its
	# connect_timeout (4 s) runs out
	sleep 7
	truth <<'EOF'
{"scenario": "outbound", "server": "exim 4.96 (remote_smtp connect_timeout 4s)", "resolver": "192.0.2.53",
 "note": "the inbound session is quick; the host's own delivery to 203.0.113.25:25 is never answered (SYNs only)",
 "sessions": [{"client": "192.0.2.200", "protocol": "smtp", "slow": []}],
 "dns": [{"qname": "remote.example", "outcome": "answered"}],
 "sql": [["select count(*) from sessions where outbound = 1 and server = '203.0.113.25' and server_port = 25 and outcome = 'unanswered'", ">=", 1]]}
EOF
}

sc_dnsbl() {
	X_ACL_RCPT='  deny    message = $sender_host_address is listed at $dnslist_domain
          dnslists = dnsbl.example'
	start_resolver "$ZONE_EMPTY" "$ZONE_SOA" && mail_env $RES4 && start_exim && start_capture eth0 || return 1
	client smtp --source $CLIENT4 --server $MAIL4
	truth <<'EOF'
{"scenario": "dnsbl", "server": "exim 4.96 (acl_smtp_rcpt: dnslists = dnsbl.example)", "resolver": "192.0.2.53",
 "note": "the DNSBL zone is unreachable: the A query for the reversed client address times out and exim accepts",
 "sessions": [{"client": "192.0.2.200", "protocol": "smtp",
   "slow": [{"command": "RCPT", "causes": [
     {"kind": "dns", "relation": "dnsbl", "qname": "200.2.0.192.dnsbl.example", "outcome": ["unanswered", "servfail"]}]}]}]}
EOF
}

sc_outlook_abort() {
	# the resolver library waits dns_retrans (30 s) for each of 3 attempts
	X_DNS_RETRANS=30s X_DNS_RETRY=3
	start_resolver "$ZONE_NONE" && mail_env $RES4 && start_exim && start_capture eth0 || return 1
	client smtp --source $CLIENT4 --server $MAIL4 --give-up 60
	truth <<'EOF'
{"scenario": "outlook-abort", "server": "exim 4.96 (dns_retrans 30s, dns_retry 3)", "resolver": "192.0.2.53",
 "note": "no reverse zone; exim would wait 90 s for the client's PTR, the client closes the connection after 60 s without a greeting (capture ends soon after)",
 "sessions": [{"client": "192.0.2.200", "protocol": "smtp",
   "slow": [{"command": "GREETING", "causes": [
     {"kind": "dns", "relation": "client-ptr", "qname": "200.2.0.192.in-addr.arpa", "outcome": "unanswered"}]}]}],
 "sql": [["select count(*) from replies where command = 'GREETING' and outcome = 'client-abort' and latency_ms >= 59000", ">=", 1]]}
EOF
}

sc_postfix_ptr_timeout() {
	start_resolver "$ZONE_NONE" && mail_env $RES4 && start_postfix && start_capture eth0 || return 1
	client smtp --source $CLIENT4 --server $MAIL4
	truth <<'EOF'
{"scenario": "postfix-ptr-timeout", "server": "postfix 3.7 smtpd (libc resolver: options timeout:2 attempts:2)", "resolver": "192.0.2.53",
 "note": "no reverse zone for 192.0.2.0/24 on the resolver: smtpd's PTR query for the client is never answered before the libc resolver gives up (2 s x 2 attempts); postfix then greets with the client as unknown",
 "sessions": [{"client": "192.0.2.200", "protocol": "smtp",
   "slow": [{"command": "GREETING", "causes": [
     {"kind": "dns", "relation": "client-ptr", "qname": "200.2.0.192.in-addr.arpa", "outcome": "unanswered"}]}]}],
 "dns": [{"qname": "200.2.0.192.in-addr.arpa", "outcome": "unanswered"}],
 "sql": [["select count(*) from sessions where protocol = 'smtp' and software is not 'postfix'", "=", 0],
         ["select count(*) from replies where command = 'GREETING' and latency_ms >= 1000 and remedy like '%smtpd_peername_lookup = no%'", ">=", 1],
         ["select count(*) from causes where relation = 'client-ptr' and parent_id is null and remedy not like '%smtpd_peername_lookup = no%'", "=", 0]]}
EOF
}

# sendmail_relay SMARTHOST: sendmail relays everything to SMARTHOST,
# interactively (the reply to the final dot waits for the delivery)
sendmail_relay() {
	M_MC="define(\`SMART_HOST', \`$1')dnl
define(\`confDELIVERY_MODE', \`interactive')dnl
define(\`confTO_RESOLVER_RETRANS', \`2s')dnl
define(\`confTO_RESOLVER_RETRY', \`2')dnl
define(\`confTO_CONNECT', \`4s')dnl
define(\`confTO_ICONNECT', \`4s')dnl"
	# the envelope domains resolve at once (sendmail checks them at MAIL
	# and RCPT); the smart host's "name" is left to the dead internet
	start_resolver "$ZONE_EMPTY" "$ZONE_SOA" 'local-zone: "good.example." static' \
		'local-data: "good.example. 3600 IN MX 10 mx.good.example."' \
		'local-data: "mx.good.example. 3600 IN A 198.51.100.25"' 'local-zone: "remote.example." static' \
		'local-data: "remote.example. 3600 IN MX 10 mx.remote.example."' \
		'local-data: "mx.remote.example. 3600 IN A 198.51.100.26"' &&
		mail_env $RES4 && start_sendmail && start_capture eth0 || return 1
	client smtp --source $CLIENT4 --server $MAIL4 --rcpt someone@remote.example
}

sc_ip_literal_relay_fixed() {
	sendmail_relay "[$REMOTE_MX]" || return 1
	truth <<'EOF'
{"scenario": "ip-literal-relay-fixed", "server": "sendmail 8.17 (DS[203.0.113.25], DeliveryMode=interactive, Timeout.connect 4s)", "resolver": "192.0.2.53",
 "note": "the remedy of ip-literal-relay: the smart host in brackets; sendmail makes no lookup for it and connects at once, but 203.0.113.25 never answers, so the reply to the final dot still waits for the connect timeout (4 s): the wait's cause is the host's own unanswered outbound connection, not DNS",
 "sessions": [{"client": "192.0.2.200", "protocol": "smtp", "slow": [{"command": "DATA-END"}]}],
 "sql": [["select count(*) from dns_queries where qname = '203.0.113.25'", "=", 0],
         ["select count(*) from causes where relation = 'ip-literal'", "=", 0],
         ["select count(*) from sessions where outbound = 1 and server = '203.0.113.25' and server_port = 25 and outcome = 'unanswered'", ">=", 1]]}
EOF
}

sc_ip_literal_relay() {
	sendmail_relay "$REMOTE_MX" || return 1
	truth <<'EOF'
{"scenario": "ip-literal-relay", "server": "sendmail 8.17 (DS203.0.113.25, DeliveryMode=interactive, Timeout.resolver.retrans 2s, retry 2)", "resolver": "192.0.2.53",
 "note": "the smart host is written as a bare IP, so sendmail asks for MX records of the name 203.0.113.25 while the client waits for the reply to its final dot; the resolver recurses for that name into the dead internet and never answers (sendmail then defers the message)",
 "sessions": [{"client": "192.0.2.200", "protocol": "smtp",
   "slow": [{"command": "DATA-END", "causes": [
     {"kind": "dns", "relation": "ip-literal", "qname": "203.0.113.25", "outcome": ["unanswered", "servfail"]}]}]}],
 "dns": [{"qname": "203.0.113.25"}],
 "sql": [["select count(*) from replies where command = 'DATA-END' and latency_ms >= 1000 and remedy like '%brackets%'", ">=", 1],
         ["select count(*) from sessions where server = '192.0.2.10' and software is not 'sendmail'", "=", 0],
         ["select count(*) from causes where relation = 'ip-literal' and remedy like '%SMART_HOST%'", ">=", 1]]}
EOF
}

sc_outbound_size() {
	start_resolver "$ZONE_EMPTY" "$ZONE_SOA" 'local-zone: "remote.example." static' \
		'local-data: "remote.example. 3600 IN MX 10 mx.remote.example."' \
		"local-data: \"mx.remote.example. 3600 IN A $SINK_MX\"" &&
		start_sink --delay-data 3 && mail_env $RES4 && start_exim && start_capture eth0 || return 1
	client smtp --source $CLIENT4 --server $MAIL4 --rcpt someone@remote.example --size 3000000
	# exim delivers at once: 3 MB to the remote MX, which takes 3 s to
	# answer the final dot
	local i
	for i in $(seq 100); do
		grep -q "disconnect" "$S/logs/sink.log" && break
		sleep 0.2
	done
	msg "  sink: $(grep message "$S/logs/sink.log" | tail -1)"
	truth <<'EOF'
{"scenario": "outbound-size", "server": "exim 4.96; remote MX 203.0.113.26 (smtpsink.py --delay-data 3)", "resolver": "192.0.2.53",
 "note": "the client submits a 3 MB message for remote.example; exim delivers it at once to the remote MX, which accepts after 3 s: the outbound session, its DATA size and the remote's slow reply to the final dot are what report outbound must show",
 "sessions": [{"client": "192.0.2.200", "protocol": "smtp", "slow": []},
   {"client": "192.0.2.10", "protocol": "smtp", "slow": [{"command": "DATA-END", "causes": [{"kind": "none"}]}]}],
 "dns": [{"qname": "remote.example", "outcome": "answered"}],
 "sql": [["select count(*) from sessions where outbound = 1 and server = '203.0.113.26' and server_port = 25 and outcome = 'ok'", ">=", 1],
         ["select max(t.size) from replies t join sessions s on s.id = t.session_id where s.outbound = 0 and t.command = 'DATA-END'", ">=", 3000000],
         ["select max(t.size) from replies t join sessions s on s.id = t.session_id where s.outbound = 1 and s.server = '203.0.113.26' and t.command in ('DATA-END', 'BDAT')", ">=", 3000000],
         ["select max(t.latency_ms) from replies t join sessions s on s.id = t.session_id where s.outbound = 1 and s.server = '203.0.113.26' and t.command = 'DATA-END'", ">=", 2900]]}
EOF
}

sc_postfix_relay_ip() {
	P_MAIN="relayhost = $REMOTE_MX
smtp_connect_timeout = 4s"
	start_resolver "$ZONE_EMPTY" "$ZONE_SOA" && mail_env $RES4 && start_postfix && start_capture eth0 || return 1
	client smtp --source $CLIENT4 --server $MAIL4 --rcpt someone@remote.example
	# the queue manager hands the message to smtp(8) at once; it gives up
	# connecting after smtp_connect_timeout (4 s)
	sleep 6
	truth <<'EOF'
{"scenario": "postfix-relay-ip", "server": "postfix 3.7 (relayhost = 203.0.113.25, smtp_connect_timeout 4s)", "resolver": "192.0.2.53",
 "note": "the same bare-IP smart host as ip-literal-relay, with postfix: it makes no DNS lookup for the numeric name and connects to 203.0.113.25 at once, after the client's message is queued; the relay never answers (SYNs only)",
 "sessions": [{"client": "192.0.2.200", "protocol": "smtp", "slow": []}],
 "sql": [["select count(*) from dns_queries where qname = '203.0.113.25'", "=", 0],
         ["select count(*) from sessions where outbound = 1 and server = '203.0.113.25' and server_port = 25 and outcome = 'unanswered'", ">=", 1]]}
EOF
}

# mirror_setup EXTRA-UNBOUND-LINES...: two mail hosts on the bridge and a
# capture on the bridge itself (what a switch's mirror port sees).
#  A: exim on 192.0.2.10 (mxlab-mail) looks up the client's PTR, which the
#     resolver never answers (no reverse zone, the dead internet): its
#     greeting waits dns_retrans 3s x dns_retry 2;
#  B: postfix on 192.0.2.11 (mxlab-mail2, host name mx-b) asks the same
#     resolver for the same PTR and gets a fast NXDOMAIN (an unbound view
#     for 192.0.2.11 serves the reverse zone empty), but its before-queue
#     content filter (slowfilter.py) holds every final dot 4 s.
mirror_setup() {
	X_DNS_RETRANS=3s X_DNS_RETRY=2
	P_ADDR=$MAIL2_4 P_NAME=mx-b P_NS=$NS_MAIL2 P_ENV=$S/mailhost-b
	P_MAIN="mydestination = example.org b.example
inet_interfaces = $MAIL2_4, 127.0.0.1
smtpd_proxy_filter = 127.0.0.1:10025"
	P_MASTER="127.0.0.1:10026 inet n   -      n      -      -       smtpd
  -o smtpd_proxy_filter=
  -o smtpd_authorized_xforward_hosts=127.0.0.0/8
  -o mynetworks=127.0.0.0/8
  -o smtpd_client_restrictions=
  -o smtpd_helo_restrictions=
  -o smtpd_sender_restrictions=
  -o smtpd_relay_restrictions=permit_mynetworks,reject
  -o smtpd_recipient_restrictions=
  -o smtpd_data_restrictions=
  -o receive_override_options=no_unknown_recipient_checks"
	mail2_up && start_resolver "$ZONE_NONE" "access-control: $MAIL2_4/32 allow" \
		"access-control-view: $MAIL2_4/32 mx-b" "$@" 'view:' '	name: "mx-b"' \
		'	local-zone: "2.0.192.in-addr.arpa." static' "	$ZONE_SOA" &&
		mail_env $RES4 && start_exim && host_env "$S/mailhost-b" mx-b $RES4 &&
		start_filter 4 && start_postfix && start_capture br0 $NS_LAN
}

# the truth statements both mirror scenarios share: whose lookup is whose,
# that neither host's lookups are causes of the other's waits, which host
# each session belongs to (none is an outbound delivery: both ends of the
# relay session are monitored hosts), that B's slow replies are diagnosed as
# B's own local processing (incident 5), and that the lab really made A's
# unanswered lookup overlap B's wait (a wait of A's greeting is its lookup in
# flight) for at least 2 s, half of it
MIRROR_SQL=$(
	cat <<'EOF'
  ["select count(*) from dns_queries where client = '192.0.2.10' and qname = '200.2.0.192.in-addr.arpa' and outcome = 'unanswered'", ">=", 1],
  ["select count(*) from dns_queries where client = '192.0.2.11' and qname = '200.2.0.192.in-addr.arpa' and outcome = 'nxdomain'", ">=", 1],
  ["select count(*) from causes c join transactions t on t.id = c.transaction_id join sessions s on s.id = t.session_id join dns_queries q on q.id = c.dns_query_id where s.server = '192.0.2.11' and q.client = '192.0.2.10'", "=", 0],
  ["select count(*) from causes c join transactions t on t.id = c.transaction_id join sessions s on s.id = t.session_id join dns_queries q on q.id = c.dns_query_id where s.server = '192.0.2.10' and q.client = '192.0.2.11'", "=", 0],
  ["select count(*) from sessions where server = '192.0.2.10' and host = '192.0.2.10'", ">=", 1],
  ["select count(*) from sessions where server = '192.0.2.11' and host = '192.0.2.11'", ">=", 1],
  ["select count(*) from sessions where host is null or host not in ('192.0.2.10', '192.0.2.11')", "=", 0],
  ["select count(*) from sessions where outbound = 1", "=", 0],
  ["select count(*) from replies t join sessions s on s.id = t.session_id where s.server = '192.0.2.11' and t.latency_ms >= 1000 and (t.remedy is null or t.remedy not like '%local processing%')", "=", 0],
  ["select count(*) from replies tb join sessions sb on sb.id = tb.session_id, replies ta join sessions sa on sa.id = ta.session_id where sb.client = '192.0.2.200' and sb.server = '192.0.2.11' and tb.command = 'DATA-END' and sa.server = '192.0.2.10' and ta.command = 'GREETING' and min(ta.reply_ts, tb.reply_ts) - max(ta.request_ts, tb.request_ts) >= 2.0", ">=", 1]
EOF
)

sc_mirror_two_mtas() {
	mirror_setup || return 1
	# A first, B half a second later: B's whole wait for its filter falls
	# inside A's unanswered lookup (the order is fixed, not left to chance)
	client_bg to-a --source $CLIENT4 --server $MAIL4 --rcpt a-user@example.org
	sleep 0.5
	client_bg to-b --source $CLIENT4 --server $MAIL2_4 --rcpt b-user@example.org
	local c
	for c in to-a to-b; do
		wait "$(pid_of $c)"
		msg "  $c: exit $?, $(tail -1 "$S/logs/$c.log")"
	done
	msg "  filter: $(grep message "$S/logs/filter.log" | tail -1)"
	truth <<EOF
{"scenario": "mirror-two-mtas", "server": "A: exim 4.96 on 192.0.2.10 (dns_retrans 3s, dns_retry 2); B: postfix 3.7 on 192.0.2.11 (smtpd_proxy_filter: slowfilter.py holds the final dot 4 s)",
 "resolver": "192.0.2.53 (unbound; no reverse zone for 192.0.2.0/24, but a view serves it empty to 192.0.2.11)",
 "capture": "br0 in mxlab-lan: the bridge, as a switch's mirror port sees the traffic",
 "note": "the same client (192.0.2.200) delivers to A and B at once; A's PTR query for the client is never answered, B's for the same name gets NXDOMAIN at once; B's reply to the final dot waits for its content filter while A's unanswered lookup is in flight: A's lookup must not be blamed for B's wait",
 "hosts": ["192.0.2.10", "192.0.2.11"],
 "sessions": [
   {"client": "192.0.2.200", "server_addr": "192.0.2.10", "protocol": "smtp",
    "slow": [{"command": "GREETING", "exact": true, "causes": [
      {"kind": "dns", "relation": "client-ptr", "qname": "200.2.0.192.in-addr.arpa", "outcome": "unanswered"}]}]},
   {"client": "192.0.2.200", "server_addr": "192.0.2.11", "protocol": "smtp",
    "slow": [{"command": "DATA-END", "exact": true, "causes": [{"kind": "none"}]}]}],
 "dns": [{"qname": "200.2.0.192.in-addr.arpa", "outcome": "unanswered"},
         {"qname": "200.2.0.192.in-addr.arpa", "outcome": "nxdomain"}],
 "sql": [$MIRROR_SQL]}
EOF
}

sc_mirror_two_mtas_relay() {
	# exim routes b.example to B by its MX record
	mirror_setup 'local-zone: "b.example." static' \
		'local-data: "b.example. 3600 IN MX 10 mx.b.example."' \
		"local-data: \"mx.b.example. 3600 IN A $MAIL2_4\"" || return 1
	client_bg to-a --source $CLIENT4 --server $MAIL4 --rcpt someone@b.example
	sleep 0.5
	client_bg to-b --source $CLIENT4 --server $MAIL2_4 --rcpt b-user@example.org
	# a second session to A whose PTR lookup (6 s) is in flight while A's
	# own delivery to B (after the first session's message, at 6-7 s)
	# waits for B's filter
	sleep 5.5
	client_bg to-a2 --source $CLIENT4 --server $MAIL4 --rcpt a-user@example.org
	local c i
	for c in to-a to-b to-a2; do
		wait "$(pid_of $c)"
		msg "  $c: exit $?, $(tail -1 "$S/logs/$c.log")"
	done
	for i in $(seq 50); do
		[ "$(grep -c message "$S/logs/filter.log")" -ge 2 ] && break
		sleep 0.2
	done
	msg "  filter: $(grep message "$S/logs/filter.log" | tr '\n' ' ')"
	sleep 1
	truth <<EOF
{"scenario": "mirror-two-mtas-relay", "server": "A: exim 4.96 on 192.0.2.10 (dns_retrans 3s, dns_retry 2); B: postfix 3.7 on 192.0.2.11 (smtpd_proxy_filter: slowfilter.py holds the final dot 4 s)",
 "resolver": "192.0.2.53 (unbound; no reverse zone for 192.0.2.0/24, but a view serves it empty to 192.0.2.11; b.example MX mx.b.example = 192.0.2.11)",
 "capture": "br0 in mxlab-lan: the bridge, as a switch's mirror port sees the traffic",
 "note": "as mirror-two-mtas, and the client's first message to A is for b.example: A delivers it to B (outbound for A, inbound for B; exim pipelines MAIL, RCPT, BDAT LAST and QUIT, postfix advertises CHUNKING), and B's filter holds that message's end too, so all four replies come 4 s late, while a second session of the client to A waits for its unanswered PTR lookup: neither host's lookups may be blamed for the other's waits",
 "hosts": ["192.0.2.10", "192.0.2.11"],
 "sessions": [
   {"client": "192.0.2.200", "server_addr": "192.0.2.10", "protocol": "smtp",
    "slow": [{"command": "GREETING", "exact": true, "causes": [
      {"kind": "dns", "relation": "client-ptr", "qname": "200.2.0.192.in-addr.arpa", "outcome": "unanswered"}]}]},
   {"client": "192.0.2.200", "server_addr": "192.0.2.11", "protocol": "smtp",
    "slow": [{"command": "DATA-END", "exact": true, "causes": [{"kind": "none"}]}]},
   {"client": "192.0.2.10", "server_addr": "192.0.2.11", "protocol": "smtp",
    "slow": [{"command": "BDAT", "exact": true, "causes": [{"kind": "none"}]}]}],
 "dns": [{"qname": "200.2.0.192.in-addr.arpa", "outcome": "unanswered"},
         {"qname": "200.2.0.192.in-addr.arpa", "outcome": "nxdomain"},
         {"qname": "10.2.0.192.in-addr.arpa", "outcome": "nxdomain"},
         {"qname": "b.example", "outcome": "answered"}],
 "sql": [$MIRROR_SQL,
  ["select count(*) from sessions where client = '192.0.2.200' and server = '192.0.2.10'", ">=", 2],
  ["select count(*) from sessions where client = '192.0.2.10' and server = '192.0.2.11' and host = '192.0.2.11' and client_is_host = 1", ">=", 1],
  ["select count(*) from replies tb join sessions sb on sb.id = tb.session_id, replies ta join sessions sa on sa.id = ta.session_id where sb.client = '192.0.2.10' and sb.server = '192.0.2.11' and tb.command = 'BDAT' and sa.server = '192.0.2.10' and ta.command = 'GREETING' and min(ta.reply_ts, tb.reply_ts) - max(ta.request_ts, tb.request_ts) >= 2.0", ">=", 1]]}
EOF
}

# ---------------------------------------------------------------------------

# ---- mail inside TLS (issue 18) -------------------------------------------

tls_dnsbl() { # TLS-MAX
	X_TLS=1
	X_ACL_RCPT='  deny    message = $sender_host_address is listed at $dnslist_domain
          dnslists = dnsbl.example'
	start_resolver "$ZONE_EMPTY" "$ZONE_SOA" && mail_env $RES4 && start_exim && start_capture eth0 || return 1
	client smtp --source $CLIENT4 --server $MAIL4 --tls starttls --tls-max "$1"
}

sc_tls_dnsbl() {
	tls_dnsbl 1.3 || return 1
	tls_dnsbl_truth tls-dnsbl 1.3
}

sc_tls12_dnsbl() {
	tls_dnsbl 1.2 || return 1
	tls_dnsbl_truth tls12-dnsbl 1.2
}

tls_dnsbl_truth() { # NAME VERSION
	truth <<EOF
{"scenario": "$1", "server": "exim 4.96 (GnuTLS; STARTTLS, the client at most TLS $2; acl_smtp_rcpt: dnslists = dnsbl.example)", "resolver": "192.0.2.53",
 "note": "the DNSBL zone is unreachable: inside TLS the encrypted RCPT waits for the A query of the reversed client address",
 "sessions": [{"client": "192.0.2.200", "protocol": "smtp",
   "slow": [{"command": "TLS", "guess": "RCPT", "causes": [
     {"kind": "dns", "relation": "dnsbl", "qname": "200.2.0.192.dnsbl.example", "outcome": ["unanswered", "servfail"]}]}]}],
 "sql": [["select count(*) from sessions where tls = 1 and outcome = 'ok'", "=", 1],
         ["select count(*) from replies where command = 'TLS-HELLO' and reply_ts is not null", "=", 1],
         ["select count(*) from replies where command = 'TLS' and guess = 'EHLO'", "=", 1]]}
EOF
}

sc_tls_sender() {
	X_TLS=1
	X_ACL_MAIL='  warn    !verify = sender
          log_message = sender verification failed or deferred'
	start_resolver "$ZONE_EMPTY" "$ZONE_SOA" && mail_env $RES4 && start_exim && start_capture eth0 || return 1
	client smtp --source $CLIENT4 --server $MAIL4 --from someone@slow.example --tls starttls
	truth <<'EOF'
{"scenario": "tls-sender", "server": "exim 4.96 (GnuTLS; STARTTLS; acl_smtp_mail: verify = sender)", "resolver": "192.0.2.53",
 "note": "the sender domain slow.example lives in a zone the resolver cannot reach; inside TLS the sender is hidden, the lookup is tied to the encrypted MAIL by timing (the only session waiting)",
 "sessions": [{"client": "192.0.2.200", "protocol": "smtp",
   "slow": [{"command": "TLS", "guess": "MAIL", "causes": [
     {"kind": "dns", "relation": "sender-domain", "qname": "slow.example", "outcome": ["unanswered", "servfail"]}]}]}]}
EOF
}

sc_tls_data() {
	X_TLS=1
	X_ACL_DATA='  warn    condition = ${lookup dnsdb{txt=_dmarc.$sender_address_domain}{1}{0}}
          log_message = DMARC record looked up'
	start_resolver "$ZONE_EMPTY" "$ZONE_SOA" && mail_env $RES4 && start_exim && start_capture eth0 || return 1
	client smtp --source $CLIENT4 --server $MAIL4 --from someone@slow.example --tls starttls --size 2000
	truth <<'EOF'
{"scenario": "tls-data", "server": "exim 4.96 (GnuTLS; STARTTLS; acl_smtp_data: dnsdb TXT _dmarc.<sender domain>)", "resolver": "192.0.2.53",
 "note": "after the message, exim looks up the sender domain's DMARC record in a zone the resolver cannot reach; inside TLS the lookup is tied to the encrypted end of DATA by timing (the only session waiting)",
 "sessions": [{"client": "192.0.2.200", "protocol": "smtp",
   "slow": [{"command": "TLS", "guess": "DATA-END", "causes": [
     {"kind": "dns", "relation": "spf", "qname": "_dmarc.slow.example", "outcome": ["unanswered", "servfail"]}]}]}]}
EOF
}

sc_smtps_ptr() {
	X_TLS=1
	start_resolver "$ZONE_NONE" && mail_env $RES4 && start_exim && start_capture eth0 || return 1
	client smtp --source $CLIENT4 --server $MAIL4 --tls implicit
	truth <<'EOF'
{"scenario": "smtps-ptr", "server": "exim 4.96 (GnuTLS; tls_on_connect_ports = 465)", "resolver": "192.0.2.53",
 "note": "no reverse zone for 192.0.2.0/24 on the resolver: on port 465 exim looks the client up before its TLS handshake, so the ServerHello waits",
 "sessions": [{"client": "192.0.2.200", "protocol": "smtp",
   "slow": [{"command": "TLS-HELLO", "causes": [
     {"kind": "dns", "relation": "client-ptr", "qname": "200.2.0.192.in-addr.arpa", "outcome": "unanswered"}]}]}],
 "sql": [["select count(*) from sessions where server_port = 465 and tls = 1 and outcome = 'ok'", "=", 1],
         ["select count(*) from replies where command = 'TLS' and guess = 'GREETING'", "=", 1],
         ["select count(*) from sessions where server_port = 465 and software is not null", "=", 0],
         ["select count(*) from causes where relation = 'client-ptr' and parent_id is null and remedy not like 'server software not known (its greeting was not seen)%'", "=", 0]]}
EOF
}

sc_dovecot_pop3s_selfname() {
	D_TLS=1
	start_resolver "$ZONE_EMPTY" "$ZONE_SOA" && mail_env $RES4 nohostname && start_dovecot &&
		start_capture eth0 || return 1
	client pop3 --proto pop3 --source $CLIENT4 --server $MAIL4 --tls implicit
	truth <<'EOF'
{"scenario": "dovecot-pop3s-selfname", "server": "dovecot 2.3.19 (POP3S on 995; host name mx not in /etc/hosts)", "resolver": "192.0.2.53",
 "note": "the first pop3-login process resolves the host's own bare name before it answers the ClientHello; the resolver recurses for it into the dead internet",
 "sessions": [{"client": "192.0.2.200", "protocol": "pop3",
   "slow": [{"command": "TLS-HELLO", "causes": [
     {"kind": "dns", "relation": "self-name", "qname": "mx", "outcome": ["unanswered", "servfail"]}]}]}],
 "sql": [["select count(*) from sessions where server_port = 995 and tls = 1", "=", 1]]}
EOF
}

# ---- big messages and bounce storms (issue 17) ------------------------------

# the forged sender domains of bounce-storm: forgedN.example (N = 1..8) has
# one MX, mx.forgedN.example, with four addresses 198.51.100.N1-N4 in the
# dead internet
forged_zones() {
	local n k
	for n in 1 2 3 4 5 6 7 8; do
		printf '%s\n' "local-zone: \"forged$n.example.\" static" \
			"local-data: \"forged$n.example. 3600 IN MX 10 mx.forged$n.example.\""
		for k in 1 2 3 4; do
			printf '%s\n' "local-data: \"mx.forged$n.example. 3600 IN A 198.51.100.$n$k\""
		done
	done
}

# count_log PATTERN FILE: lines of FILE matching the extended regexp
count_log() { grep -cE -- "$1" "$2" 2>/dev/null || true; }

sc_bounce_storm() {
	local s n i froms ml
	# exim accepts any local part of example.org at RCPT and fails it at
	# routing when the message arrives (so each message bounces at once),
	# but refuses old.example.org at RCPT; remote deliveries only by queue
	# runners (queue_smtp_domains; at most 4 runners at once, messages in
	# order of arrival); a bounce waits connect_timeout 3 s for an MX address
	# that never answers, and tries one address per attempt (the next
	# attempt for the same domain tries the next address: the failed ones
	# are in retry)
	X_ACL_RCPT='  deny    domains = old.example.org
          message = 5.1.1 <$local_part@$domain>: no such user here'
	X_LOCAL='  allow_fail
  data = :fail: no such user here'
	X_MAIN='queue_smtp_domains = *
queue_run_max = 4
queue_run_in_order = true
remote_max_parallel = 1'
	X_QUEUE=-q1s X_CONNECT_TIMEOUT=3s X_SMTP='  hosts_max_try = 1'
	# the queue runners go on retrying until the end: every packet written
	CAP_IMMEDIATE=1
	mapfile -t zones < <(forged_zones)
	start_resolver "$ZONE_EMPTY" "$ZONE_SOA" "${zones[@]}" \
		'local-zone: "live.example." static' \
		'local-data: "live.example. 3600 IN MX 10 mx.live.example."' \
		"local-data: \"mx.live.example. 3600 IN A $SINK_MX\"" \
		'local-zone: "remote.example." static' \
		'local-data: "remote.example. 3600 IN MX 10 mx.remote.example."' \
		"local-data: \"mx.remote.example. 3600 IN A $SINK_MX\"" &&
		start_sink && mail_env $RES4 && start_exim && start_capture eth0 || return 1
	ml=$S/exim/log/mainlog
	# the spammer (192.0.2.203): four sessions of eight messages, the
	# envelope senders forged in forged1..8.example; each message's first
	# recipient is refused (550), the second accepted and bounced; then one
	# message forged from live.example, whose MX answers
	froms=""
	for n in 1 2 3 4 5 6 7 8; do froms="$froms --from news$n@forged$n.example"; done
	for s in 1 2 3 4; do
		client spam$s --source 192.0.2.203 --server $MAIL4 --helo bulk.spam.example --messages 8 \
			$froms --rcpt "ghost$s-{i}@old.example.org" --rcpt "user$s-{i}@example.org"
	done
	client spam5 --source 192.0.2.203 --server $MAIL4 --helo bulk.spam.example \
		--from owner@live.example --rcpt ghost5@old.example.org --rcpt user5@example.org
	# the queue runners turn the 33 messages into 33 bounces (MAIL FROM:<>)
	for i in $(seq 150); do
		[ "$(count_log ' <= <> ' "$ml")" -ge 33 ] && break
		sleep 0.2
	done
	msg "  bounces queued: $(count_log ' <= <> ' "$ml"), delivery attempts so far: $(count_log 'H=mx\.forged' "$ml")"
	# meanwhile the ordinary user (192.0.2.200) submits mail for remote.example
	client ordinary --source $CLIENT4 --server $MAIL4 --rcpt someone@remote.example --size 20000
	for i in $(seq 300); do
		grep -q '=> someone@remote.example' "$ml" && break
		sleep 0.2
	done
	sleep 1
	msg "  ordinary: $(grep -E '=> someone@remote.example' "$ml" | head -1)"
	msg "  bounce attempts: $(count_log 'H=mx\.forged.*(Connection timed out|timed out)' "$ml") timed out, $(count_log 'retry time not reached' "$ml") skipped; sink: $(grep -c message "$S/logs/sink.log")"
	truth <<'EOF'
{"scenario": "bounce-storm", "server": "exim 4.96 (queue_smtp_domains = *, queue runners every 1 s, queue_run_max 4, queue_run_in_order, remote_max_parallel 1; local parts of example.org accepted at RCPT and failed by the router (:fail:), old.example.org refused at RCPT; remote_smtp connect_timeout 3s, hosts_max_try 1)",
 "resolver": "192.0.2.53 (forged1..8.example: MX mx.forgedN.example, four A records 198.51.100.N1-N4 each, in the dead internet; live.example and remote.example: MX 203.0.113.26, smtpsink.py)",
 "note": "the spammer 192.0.2.203 sends 33 messages in 5 sessions, envelope senders forged in forged1..8.example (and one in live.example), each to one refused recipient (550 at RCPT) and one accepted unknown user; exim bounces all 33 (MAIL FROM:<>) to the forged senders: MX and A lookups of the forged domains, then connections to their MX addresses that are never answered (SYNs only, 3 s each, 4 queue runners); the ordinary message of 192.0.2.200 for remote.example, submitted after the bounces were queued, is delivered to 203.0.113.26 only when a queue runner is free. NEEDS THE BOUNCE ANALYSIS (issue 17, not built on this branch): the last five sql checks, on bounce_domain, bounce_origin and bounce_session_id; the fifth of them (none of the three on the ordinary delivery) holds today too, the four before it fail until the analysis fills the columns; all other checks hold today",
 "sessions": [{"client": "192.0.2.203", "protocol": "smtp", "slow": []},
   {"client": "192.0.2.200", "protocol": "smtp", "slow": []}],
 "dns": [{"qname": "forged1.example", "outcome": "answered"},
         {"qname": "mx.forged1.example", "outcome": "answered"}],
 "sql": [["select count(*) from sessions where client = '192.0.2.203' and outbound = 0 and server = '192.0.2.10'", "=", 5],
         ["select count(*) from replies t join sessions s on s.id = t.session_id where s.client = '192.0.2.203' and t.command = 'RCPT' and t.reply_code = '550'", "=", 33],
         ["select count(*) from replies t join sessions s on s.id = t.session_id where s.client = '192.0.2.203' and t.command = 'DATA-END' and t.reply_code = '250'", "=", 33],
         ["select count(*) from replies t join sessions s on s.id = t.session_id where s.client = '192.0.2.203' and t.command = 'MAIL' and t.argument like '%@forged_.example>%' and t.reply_code = '250'", "=", 32],
         ["select count(distinct qname) from dns_queries where client = '192.0.2.10' and qtype = 'MX' and qname like 'forged_.example'", "=", 8],
         ["select count(distinct qname) from dns_queries where client = '192.0.2.10' and qtype = 'A' and qname like 'mx.forged_.example'", "=", 8],
         ["select count(*) from sessions where outbound = 1 and server like '198.51.100.__' and server_port = 25 and outcome = 'unanswered'", ">=", 28],
         ["select count(distinct server) from sessions where outbound = 1 and server like '198.51.100.__' and outcome = 'unanswered'", ">=", 28],
         ["select count(*) from sessions where outbound = 1 and server like '198.51.100.__' and outcome is not 'unanswered'", "=", 0],
         ["select count(*) from sessions where outbound = 1 and server = '203.0.113.26' and null_sender = 1 and outcome = 'ok'", "=", 1],
         ["select count(*) from sessions where outbound = 1 and server = '203.0.113.26' and null_sender = 0 and outcome = 'ok' and rcpt_domains = 'remote.example'", "=", 1],
         ["select min(o.syn) - max(i.\"end\") from sessions o, sessions i where o.outbound = 1 and o.server = '203.0.113.26' and o.null_sender = 0 and i.client = '192.0.2.200' and i.outbound = 0", ">=", 10],
         ["select count(*) from sessions b, sessions o, sessions i where b.outbound = 1 and b.server like '198.51.100.__' and o.outbound = 1 and o.server = '203.0.113.26' and o.null_sender = 0 and i.client = '192.0.2.200' and i.outbound = 0 and b.syn > i.\"end\" and b.syn < o.syn", ">=", 8],
         ["select count(*) from sessions where outbound = 1 and server like '198.51.100.__' and bounce_domain like 'forged_.example'", ">=", 28],
         ["select count(*) from sessions where outbound = 1 and server like '198.51.100.__' and bounce_origin = '192.0.2.203'", ">=", 28],
         ["select count(*) from sessions o join sessions i on i.id = o.bounce_session_id where o.outbound = 1 and o.server like '198.51.100.__' and i.client = '192.0.2.203' and i.outbound = 0 and exists (select 1 from replies m where m.session_id = i.id and m.command = 'MAIL' and m.argument like '%@' || o.bounce_domain || '>%')", ">=", 28],
         ["select count(*) from sessions where outbound = 1 and server = '203.0.113.26' and null_sender = 1 and bounce_domain = 'live.example' and bounce_origin = '192.0.2.203'", "=", 1],
         ["select count(*) from sessions where outbound = 1 and server = '203.0.113.26' and null_sender = 0 and bounce_domain is null and bounce_origin is null and bounce_session_id is null", "=", 1]]}
EOF
}

# start_scanner: scanner.py in the mail host, one worker on a Unix socket
# that exim's DATA ACL asks (${readsocket}) to scan each message
start_scanner() {
	mkdir -p "$S/scanner"
	chmod 755 "$S/scanner"
	spawn scanner $NS_MAIL $PY "$LAB_DIR/scanner.py" --socket "$S/scanner/scan.sock" \
		--keep "$S/scanner/quarantine" >/dev/null
	wait_for 10 test -S "$S/scanner/scan.sock" || {
		msg "scanner did not start: $(tail -3 "$S/logs/scanner.log")"
		return 1
	}
}

BIG_SIZE=200000000

sc_big_message() {
	local i
	# exim takes messages of any size and has each one scanned before it
	# answers the final dot: the scanner reads the spool file, hashes it,
	# looks for a signature and writes and fsyncs a copy, one message at a
	# time; a message of 200 MB keeps it busy for seconds
	X_MAIN='message_size_limit = 0'
	X_ACL_DATA="  warn    set acl_m_scan = \${readsocket{$S/scanner/scan.sock}{SCAN \$spool_directory/input/\$message_exim_id-D\\n}{120s}{}{ERROR scanner unavailable}}
          log_message = scan: \$acl_m_scan
  defer   condition = \${if !match{\$acl_m_scan}{\\N^CLEAN \\N}}
          message = content scan failed: \$acl_m_scan"
	CAP_BUFFER=131072
	start_resolver "$ZONE_EMPTY" "$ZONE_SOA" && mail_env $RES4 && start_scanner && start_exim &&
		start_capture eth0 || return 1
	client_bg big --source $CLIENT4 --server $MAIL4 --size $BIG_SIZE
	# once the big message is being scanned, a second client sends a small
	# one: its final dot waits for the same scanner
	for i in $(seq 600); do
		grep -q 'scan 1 start' "$S/logs/scanner.log" && break
		sleep 0.1
	done
	client small --source 192.0.2.201 --server $MAIL4 --size 2000
	wait "$(pid_of big)"
	msg "  big: exit $?, $(tail -1 "$S/logs/big.log")"
	msg "  scanner: $(grep -E 'CLEAN|VIRUS|ERROR' "$S/logs/scanner.log" | sed 's/ [0-9a-f]\{64\}//' | tr '\n' ' ')"
	truth <<'EOF'
{"scenario": "big-message", "server": "exim 4.96 (message_size_limit 0; acl_smtp_data asks scanner.py, one worker, over ${readsocket} to scan the spool file)",
 "note": "192.0.2.200 sends a 200 MB message; exim's DATA ACL has it scanned (read, SHA-256, signature search, a copy written and fsynced) before answering the final dot; meanwhile 192.0.2.201 sends a small message, whose final dot waits for the same single scanner: a slow reply with no DNS or ident cause while the big message (inbound to 192.0.2.10) is on the host. NEEDS THE BIG-MESSAGE ANALYSIS (issue 17, not built on this branch): the DATA-END of 192.0.2.201 with exactly one cause, of kind big-message (the 'exact' slow entry), and the sql check on causes.session_ref (the last one); all others hold today",
 "sessions": [{"client": "192.0.2.200", "protocol": "smtp", "slow": [{"command": "DATA-END"}]},
   {"client": "192.0.2.201", "protocol": "smtp",
    "slow": [{"command": "DATA-END", "exact": true, "causes": [{"kind": "big-message"}]}]}],
 "sql": [["select max_message from sessions where client = '192.0.2.200' and server = '192.0.2.10' and outbound = 0", ">=", 200000000],
         ["select max(t.size) from replies t join sessions s on s.id = t.session_id where s.client = '192.0.2.200' and t.command = 'DATA-END' and t.reply_code = '250'", ">=", 200000000],
         ["select count(*) from sessions where client = '192.0.2.200' and server = '192.0.2.10' and outbound = 0 and client_is_host = 0 and host = '192.0.2.10' and outcome = 'ok'", "=", 1],
         ["select max_message from sessions where client = '192.0.2.201'", "<", 10000],
         ["select count(*) from sessions where outbound = 1", "=", 0],
         ["select max(t.latency_ms) from replies t join sessions s on s.id = t.session_id where s.client = '192.0.2.201' and t.command = 'DATA-END' and t.reply_code = '250'", ">=", 1000],
         ["select count(*) from causes c join transactions t on t.id = c.transaction_id join sessions s on s.id = t.session_id where s.client = '192.0.2.201' and c.kind in ('dns', 'ident')", "=", 0],
         ["select count(*) from replies ts join sessions ss on ss.id = ts.session_id, replies tb join sessions sb on sb.id = tb.session_id where ss.client = '192.0.2.201' and ts.command = 'DATA-END' and sb.client = '192.0.2.200' and tb.command = 'DATA-END' and min(ts.reply_ts, tb.reply_ts) - max(ts.request_ts, tb.request_ts) >= 0.9 * (ts.reply_ts - ts.request_ts)", "=", 1],
         ["select count(*) from causes c join transactions t on t.id = c.transaction_id join sessions s on s.id = t.session_id join sessions b on b.id = c.session_ref where s.client = '192.0.2.201' and t.command = 'DATA-END' and c.kind = 'big-message' and b.client = '192.0.2.200' and b.max_message >= 200000000", "=", 1]]}
EOF
}

run_one() {
	SC=$1
	S=$T/$SC
	X_IDENT="" X_ACL_CONNECT="" X_ACL_MAIL="" X_ACL_RCPT="" X_ACL_DATA="" X_DNS_RETRANS="" X_DNS_RETRY=""
	X_TLS="" D_TLS="" X_MAIN="" X_LOCAL="" X_CONNECT_TIMEOUT="" X_SMTP="" X_QUEUE="" CAP_BUFFER="" CAP_IMMEDIATE=""
	P_MAIN="" P_MASTER="" P_ADDR="" P_NAME="" P_NS="" P_ENV="" M_MC=""
	rm -rf "$S"
	mkdir -p "$S/logs"
	chmod 755 "$S"
	rm -f "$OUT/$SC.pcap" "$OUT/$SC.truth.json"
	local t0 rc=0
	t0=$(date +%s)
	msg "scenario $SC"
	if net_up; then
		"sc_$(echo "$SC" | tr - _)" || rc=1
		[ -n "$(pid_of tcpdump)" ] && stop_capture
	else
		msg "network setup failed"
		rc=1
	fi
	stop_all
	net_down
	# keep the servers' logs next to the capture
	mkdir -p "$OUT/logs/$SC"
	cp -r "$S/logs/." "$OUT/logs/$SC/" 2>/dev/null
	[ -d "$S/exim/log" ] && cp "$S/exim/log/"* "$OUT/logs/$SC/" 2>/dev/null
	[ -f "$S/dovecot/dovecot.log" ] && cp "$S/dovecot/dovecot.log" "$OUT/logs/$SC/" 2>/dev/null
	[ -f "$S/postfix/maillog" ] && cp "$S/postfix/maillog" "$OUT/logs/$SC/postfix-maillog" 2>/dev/null
	[ -f "$S/postfix/etc/main.cf" ] && cp "$S/postfix/etc/main.cf" "$S/postfix/etc/master.cf" "$OUT/logs/$SC/" 2>/dev/null
	[ -f "$S/sendmail/sendmail.mc" ] && cp "$S/sendmail/sendmail.mc" "$S/sendmail/sendmail.cf" "$OUT/logs/$SC/" 2>/dev/null
	for f in "$S"/*/*.conf; do [ -f "$f" ] && cp "$f" "$OUT/logs/$SC/"; done
	if [ $rc = 0 ] && [ -s "$OUT/$SC.pcap" ] && [ -s "$OUT/$SC.truth.json" ]; then
		msg "scenario $SC done in $(($(date +%s) - t0)) s: $OUT/$SC.pcap"
	else
		msg "scenario $SC FAILED (logs in $OUT/logs/$SC)"
		rm -f "$OUT/$SC.truth.json"
		rc=1
	fi
	unset "PID_tcpdump"
	return $rc
}

on_exit() {
	local rc=$?
	trap - EXIT INT TERM
	stop_all
	net_down
	if [ -n "$T" ] && [ -d "$T" ]; then
		if [ "${MXLAB_KEEP:-0}" = 1 ]; then msg "kept $T"; else rm -rf "$T"; fi
	fi
	exit $rc
}

cmd_run() {
	local list="" a fails=0 n=0 t0
	while [ $# -gt 0 ]; do
		case $1 in
		-o) OUT=${2:-}; shift 2 || usage ;;
		-o*) OUT=${1#-o}; shift ;;
		all) list="$list $(scenario_names | tr '\n' ' ')"; shift ;;
		-*) usage ;;
		*)
			scenario_names | grep -qx -- "$1" || die "unknown scenario $1 (see: lab.sh list)"
			list="$list $1"
			shift
			;;
		esac
	done
	[ -n "$OUT" ] && [ -n "$list" ] || usage
	need_root
	take_lock wait
	ensure_packages
	case " $list " in *" postfix-"* | *" mirror-"*) ensure_postfix ;; esac
	case " $list " in *" ip-literal-relay"*) ensure_sendmail ;; esac
	command -v ip >/dev/null && ip netns list >/dev/null 2>&1 || die "ip netns is not available"
	mkdir -p "$OUT" || die "cannot create $OUT"
	OUT=$(cd "$OUT" && pwd)
	T=$(mktemp -d /tmp/mxlab.XXXXXX) || die "mktemp"
	chmod 755 "$T"
	: >"$T/pids"
	trap on_exit EXIT
	trap 'msg interrupted; exit 130' INT TERM
	t0=$(date +%s)
	for a in $list; do
		n=$((n + 1))
		run_one "$a" || fails=$((fails + 1))
	done
	msg "$n scenario(s) in $(($(date +%s) - t0)) s, $fails failed; results in $OUT"
	[ $fails = 0 ]
}

cmd_cleanup() {
	need_root
	take_lock nowait
	net_down
	msg "removed the lab's namespaces and the processes in them"
}

main() {
	case ${1:-} in
	list)
		printf '%s\n' "$SCENARIOS" | sed -n 's/^\([a-z0-9-]*\)|\(.*\)/\1\t\2/p'
		;;
	run)
		shift
		cmd_run "$@"
		;;
	cleanup) cmd_cleanup ;;
	*) usage ;;
	esac
}

# (on one line: bash stops reading this file here, so the script may be
# replaced while a run is going on)
main "$@"; exit $?
