#!/bin/sh
# pop3d.sh - a tiny POP3 responder for the mxlag lab, run by tcpserver
# (stdin/stdout are the connection).  One mailbox, one message, any
# password accepted.  It does no lookups of its own: all the network work
# of a session is tcpserver's (PTR of its own address, PTR of the client,
# ident), which happens before this script is started.
CR=$(printf '\r')
MSG='From: <a@good.example>
To: <alice@example.org>
Subject: mxlag lab

Hello from the lab.
'
SIZE=$(printf '%s' "$MSG" | wc -c)

reply() { printf '%s\r\n' "$@"; }

reply "+OK mxlab POP3 ready"
while IFS= read -r line; do
	line=${line%"$CR"}
	cmd=$(printf '%s' "${line%% *}" | tr '[:lower:]' '[:upper:]')
	case $cmd in
	USER) reply "+OK" ;;
	PASS) reply "+OK mailbox locked and ready" ;;
	STAT) reply "+OK 1 $SIZE" ;;
	LIST) reply "+OK 1 messages" "1 $SIZE" "." ;;
	UIDL) reply "+OK" "1 lab-0001" "." ;;
	RETR | TOP)
		reply "+OK $SIZE octets"
		printf '%s' "$MSG" | sed 's/$/\r/'
		reply "."
		;;
	DELE | NOOP | RSET) reply "+OK" ;;
	CAPA) reply "+OK" "USER" "UIDL" "TOP" "." ;;
	QUIT)
		reply "+OK bye"
		exit 0
		;;
	*) reply "-ERR unknown command" ;;
	esac
done
