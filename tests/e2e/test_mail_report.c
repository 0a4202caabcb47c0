/*
 * test_mail_report.c - issue 14: examples/cron/mxlag-mail-report, the
 * script the cron entry and the systemd service run.  A stand-in sendmail
 * on PATH writes each mail to a file.  Checked: a mail only when the day
 * has slow replies (examples/ptr-timeout.pcap has one, an mxlag-gen
 * workload none); the day and the window are the local day of TZ for the
 * file names and the report alike (Europe/Berlin, UTC, America/New_York,
 * "now" fixed with MXLAG_NOW); the MIME structure of the text and the HTML
 * mail; an error mail and exit 1 on a bad database; an empty capture file
 * of the day is a notice in the mail, not an error; the command lines of
 * examples/cron/mxlag.cron and examples/systemd/mxlag-report.service as
 * shipped (their % escaped for cron and systemd) run and mail.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../support/e2e.h"

static char bin[512], gen[512], script[600], pcap[600];
static char *dir;

static void
setup(void)
{
	e2e_bin("mxlag", bin, sizeof(bin));
	e2e_bin("mxlag-gen", gen, sizeof(gen));
	const char *src = getenv("MXLAG_SRC");
	cr_assert_not_null(src, "MXLAG_SRC not set");
	snprintf(script, sizeof(script), "%s/examples/cron/mxlag-mail-report", src);
	snprintf(pcap, sizeof(pcap), "%s/examples/ptr-timeout.pcap", src);
	dir = e2e_tmpdir();
	cr_assert_not_null(dir);
	/* sendmail -t stand-in: mail N to mail/N, its arguments to mail/N.args */
	int rc = e2e_sh(NULL,
			"cd '%s' && mkdir bin mail cap && "
			"printf '%%s\\n' '#!/bin/sh' 'n=$(ls \"$MAILDIR\" | grep -c -v args)' "
			"'echo \"$*\" > \"$MAILDIR/$n.args\"' 'cat > \"$MAILDIR/$n\"' > bin/sendmail && "
			"chmod +x bin/sendmail",
			dir);
	cr_assert_eq(rc, 0);
	/* the day's captures: 2026-01-01 01:00 in Berlin, a 0-byte file of the
	 * next hour, and a file of another day that must not be read (it is
	 * not a capture: reading it would fail) */
	rc = e2e_sh(NULL,
		    "cd '%s/cap' && cp '%s' mx-20260101-01.pcap && : > mx-20260101-02.pcap && "
		    "echo 'not a capture' > mx-20251231-23.pcap",
		    dir, pcap);
	cr_assert_eq(rc, 0);
	/* a database with no slow reply */
	char *out = NULL;
	rc = e2e_sh(&out,
		    "cd '%s' && '%s' workload -q -o fast.pcap --sessions 20 2>&1 && "
		    "'%s' analyze --quiet --db fast.db fast.pcap 2>&1",
		    dir, gen, bin);
	cr_assert_eq(rc, 0, "%s", out);
	free(out);
}

static void
teardown(void)
{
	e2e_rmdir(dir);
}

TestSuite(mail_report, .init = setup, .fini = teardown, .timeout = 120);

/* runs the script in dir with TZ, MXLAG_NOW and args; its stdout+stderr to *out */
static int
run(char **out, const char *tz, const char *now, const char *args)
{
	return e2e_sh(out,
		      "cd '%s' && PATH='%s/bin':\"$(dirname '%s')\":\"$PATH\" MAILDIR='%s/mail' "
		      "TZ='%s' MXLAG_NOW='%s' sh '%s' %s 2>&1",
		      dir, dir, bin, dir, tz, now, script, args);
}

static int
mails(void)
{
	char *out = NULL;
	e2e_sh(&out, "ls '%s/mail' | grep -c -v args", dir);
	int n = atoi(out);
	free(out);
	return n;
}

static char *
mail(int n)
{
	char p[700];
	snprintf(p, sizeof(p), "%s/mail/%d", dir, n);
	char *m = e2e_slurp(p);
	cr_assert_not_null(m, "no mail %d", n);
	return m;
}

/* the header block of a mail (up to the first empty line), malloc'd */
static char *
head_of(const char *m)
{
	const char *e = strstr(m, "\n\n");
	cr_assert_not_null(e, "a header block ends with an empty line");
	return strndup(m, (size_t)(e - m + 1));
}

static void
expect_text_mail(const char *m, const char *to, const char *subject_has)
{
	char *h = head_of(m);
	char want[300];
	snprintf(want, sizeof(want), "To: %s\n", to);
	cr_expect(strncmp(h, want, strlen(want)) == 0, "%s", h);
	cr_expect(strstr(h, "\nMIME-Version: 1.0\n") != NULL, "%s", h);
	cr_expect(strstr(h, "\nContent-Type: text/plain; charset=utf-8\n") != NULL, "%s", h);
	cr_expect(strstr(h, "\nContent-Transfer-Encoding: 8bit\n") != NULL, "%s", h);
	const char *s = strstr(h, "\nSubject: ");
	cr_expect(s && strstr(s, subject_has) != NULL, "subject has \"%s\": %s", subject_has, h);
	free(h);
}

Test(mail_report, berlin_day_mailed_with_the_slow_reply)
{
	char *out = NULL;
	int rc = run(&out, "Europe/Berlin", "2026-01-02 00:15",
		     "--db b.db --files \"$PWD/cap/mx-%Y%m%d-*.pcap\" --to ops@example.org");
	cr_expect_eq(rc, 0, "%s", out);
	cr_expect_str_eq(out, "", "silent when all went well (cron mails any output)");
	free(out);
	cr_assert_eq(mails(), 1);
	char *m = mail(0);
	expect_text_mail(m, "ops@example.org", "mxlag: 1 slow mail reply on 2026-01-01 on ");
	/* the local day of Berlin, 00:00 CET = 23:00 UTC the day before */
	cr_expect(strstr(m, "2026-01-01 00:00 CET to 2026-01-02 00:00 CET "
			    "(2025-12-31 23:00 to 2026-01-01 23:00 UTC)") != NULL,
		  "%s", m);
	cr_expect(strstr(m, "\nslow              1\n") != NULL, "summary: %s", m);
	cr_expect(strstr(m, "GREETING   30000.0") != NULL, "slow report: %s", m);
	/* the empty file of the day: a notice in the mail */
	cr_expect(strstr(m, "mx-20260101-02.pcap: no packets") != NULL, "%s", m);
	cr_expect(strstr(m, "20251231") == NULL, "another day's file was read: %s", m);
	free(m);
	char ap[700];
	snprintf(ap, sizeof(ap), "%s/mail/0.args", dir);
	char *args = e2e_slurp(ap);
	cr_expect_str_eq(args, "-t\n");
	free(args);

	/* again (cron run twice): the files are not analyzed twice, the mail
	 * is the same report */
	rc = run(&out, "Europe/Berlin", "2026-01-02 00:15",
		 "--db b.db --files \"$PWD/cap/mx-%Y%m%d-*.pcap\" --to ops@example.org");
	cr_expect_eq(rc, 0, "%s", out);
	free(out);
	cr_assert_eq(mails(), 2);
	m = mail(1);
	cr_expect(strstr(m, "analyzed before") != NULL, "%s", m);
	cr_expect(strstr(m, "\nruns              1\n") != NULL, "%s", m);
	free(m);
}

Test(mail_report, utc_day_is_the_utc_window)
{
	char *out = NULL;
	int rc = run(&out, "UTC", "2026-01-02 00:15",
		     "--db u.db --files \"$PWD/cap/mx-%Y%m%d-*.pcap\"");
	cr_expect_eq(rc, 0, "%s", out);
	free(out);
	cr_assert_eq(mails(), 1);
	char *m = mail(0);
	expect_text_mail(m, "postmaster", "1 slow mail reply on 2026-01-01");
	cr_expect(strstr(m, "2026-01-01 00:00 UTC to 2026-01-02 00:00 UTC "
			    "(2026-01-01 00:00 to 2026-01-02 00:00 UTC)") != NULL,
		  "%s", m);
	free(m);
}

/* 2026-01-01 00:00:01 UTC is 2025-12-31 19:00 in New York: the report of
 * New York's 2025-12-31 has the slow reply, UTC's 2025-12-31 has not */
Test(mail_report, window_follows_the_local_day)
{
	char *out = NULL;
	int rc = run(&out, "UTC", "2026-01-02 00:15",
		     "--db w.db --files \"$PWD/cap/mx-%Y%m%d-*.pcap\"");
	cr_assert_eq(rc, 0, "%s", out);
	free(out);
	cr_assert_eq(mails(), 1);
	rc = run(&out, "UTC", "2026-01-01 00:15", "--db w.db --files ''");
	cr_expect_eq(rc, 0, "%s", out);
	free(out);
	cr_expect_eq(mails(), 1, "UTC 2025-12-31: no slow reply, no mail");
	rc = run(&out, "America/New_York", "2026-01-01 00:15", "--db w.db --files ''");
	cr_expect_eq(rc, 0, "%s", out);
	free(out);
	cr_assert_eq(mails(), 2, "New York 2025-12-31: the slow reply is mailed");
	char *m = mail(1);
	expect_text_mail(m, "postmaster", "1 slow mail reply on 2025-12-31");
	cr_expect(strstr(m, "(2025-12-31 05:00 to 2026-01-01 05:00 UTC)") != NULL, "%s", m);
	free(m);
	/* --day overrides "yesterday" */
	rc = run(&out, "America/New_York", "2030-06-01 12:00", "--db w.db --files '' --day 2025-12-31");
	cr_expect_eq(rc, 0, "%s", out);
	free(out);
	cr_expect_eq(mails(), 3);
}

Test(mail_report, no_slow_replies_no_mail)
{
	char *out = NULL;
	int rc = run(&out, "Europe/Berlin", "2026-01-02 00:15", "--db fast.db --files '' --html");
	cr_expect_eq(rc, 0, "%s", out);
	cr_expect_str_eq(out, "");
	free(out);
	cr_expect_eq(mails(), 0);
	/* no files of the day either */
	rc = run(&out, "UTC", "2026-01-02 00:15", "--db fast.db --files \"$PWD/cap/none-%Y%m%d-*.pcap\"");
	cr_expect_eq(rc, 0, "%s", out);
	free(out);
	cr_expect_eq(mails(), 0);
}

Test(mail_report, html_mail_is_valid_mime)
{
	char *out = NULL;
	int rc = run(&out, "Europe/Berlin", "2026-01-02 00:15",
		     "--db h.db --files \"$PWD/cap/mx-%Y%m%d-*.pcap\" --html");
	cr_expect_eq(rc, 0, "%s", out);
	free(out);
	cr_assert_eq(mails(), 1);
	char *m = mail(0);
	char *h = head_of(m);
	cr_expect(strstr(h, "\nMIME-Version: 1.0\n") != NULL, "%s", h);
	const char *ct = strstr(h, "\nContent-Type: multipart/mixed; boundary=\"");
	cr_assert_not_null(ct, "%s", h);
	char b[80];
	cr_assert_eq(sscanf(ct, "\nContent-Type: multipart/mixed; boundary=\"%79[^\"]\"", b), 1);
	cr_expect_geq(strlen(b), 20, "boundary %s", b);
	free(h);
	/* delimiter lines: exactly two part starts and one close, the close
	 * last; no other line starts with the boundary; lines <= 998 octets */
	char delim[100], close[100];
	snprintf(delim, sizeof(delim), "--%s", b);
	snprintf(close, sizeof(close), "--%s--", b);
	int starts = 0, closes = 0, others = 0, last_was_close = 0, longest = 0;
	const char *parts[2] = {NULL, NULL};
	for (const char *l = m; *l;) {
		const char *nl = strchr(l, '\n');
		size_t len = nl ? (size_t)(nl - l) : strlen(l);
		if ((int)len > longest)
			longest = (int)len;
		last_was_close = 0;
		if (len == strlen(close) && strncmp(l, close, len) == 0) {
			closes++;
			last_was_close = 1;
		} else if (len == strlen(delim) && strncmp(l, delim, len) == 0) {
			if (starts < 2)
				parts[starts] = nl ? nl + 1 : l + len;
			starts++;
		} else if (strncmp(l, delim, strlen(delim)) == 0) {
			others++;
		}
		if (!nl)
			break;
		l = nl + 1;
	}
	cr_expect_eq(starts, 2);
	cr_expect_eq(closes, 1);
	cr_expect_eq(others, 0);
	cr_expect(last_was_close, "the close delimiter ends the mail");
	cr_expect_leq(longest, 998, "SMTP line length");
	cr_assert(parts[0] && parts[1]);
	static const char text_h[] = "Content-Type: text/plain; charset=utf-8\n"
				     "Content-Transfer-Encoding: 8bit\n\n";
	static const char html_h[] =
		"Content-Type: text/html; charset=utf-8\n"
		"Content-Disposition: attachment; filename=\"mxlag-2026-01-01.html\"\n"
		"Content-Transfer-Encoding: base64\n\n";
	cr_expect(strncmp(parts[0], text_h, strlen(text_h)) == 0, "text part headers: %.120s",
		  parts[0]);
	cr_expect(strncmp(parts[1], html_h, strlen(html_h)) == 0, "html part headers: %.200s",
		  parts[1]);
	cr_expect(strstr(parts[0], "GREETING   30000.0") != NULL, "text part has the slow report");
	free(m);
	/* the attachment decodes to the page mxlag writes for the window */
	rc = e2e_sh(&out,
		    "cd '%s' && sed -n '/^Content-Transfer-Encoding: base64$/,/^--/p' mail/0 | "
		    "sed '1,2d;$d' | base64 -d > got.html && "
		    "TZ=Europe/Berlin '%s' report --db h.db --since 1767222000 --until 1767308400 "
		    "--format html slow "
		    "> want.html && cmp got.html want.html && head -c 15 got.html",
		    dir, bin);
	cr_expect_eq(rc, 0, "%s", out);
	cr_expect_str_eq(out, "<!DOCTYPE html>");
	free(out);
}

Test(mail_report, bad_database_is_an_error_mail)
{
	char *out = NULL;
	int rc = e2e_sh(NULL, "cd '%s' && echo 'not a database' > bad.db", dir);
	cr_assert_eq(rc, 0);
	rc = run(&out, "UTC", "2026-01-02 00:15", "--db bad.db --files '' --html");
	cr_expect_eq(rc, 1, "%s", out);
	cr_expect(strstr(out, "mxlag report slow failed (exit 1)") != NULL, "%s", out);
	free(out);
	cr_assert_eq(mails(), 1);
	char *m = mail(0);
	expect_text_mail(m, "postmaster", "mxlag: report FAILED for 2026-01-01 on ");
	cr_expect(strstr(m, "failed with exit status 1") != NULL, "%s", m);
	cr_expect(strstr(m, "bad.db") != NULL, "names the database: %s", m);
	free(m);
	/* a capture of the day that cannot be analyzed: an error mail too */
	rc = run(&out, "UTC", "2026-01-01 00:15", "--db e.db --files \"$PWD/cap/mx-%Y%m%d-*.pcap\"");
	cr_expect_eq(rc, 1, "%s", out);
	free(out);
	cr_assert_eq(mails(), 2);
	m = mail(1);
	cr_expect(strstr(m, "Subject: mxlag: report FAILED for 2025-12-31") != NULL, "%s", m);
	cr_expect(strstr(m, "mxlag analyze failed") != NULL, "%s", m);
	free(m);
	/* no files and no database yet (a new install whose capture never
	 * ran): an error mail that says both */
	rc = run(&out, "UTC", "2026-01-02 00:15",
		 "--db missing.db --files \"$PWD/cap/none-%Y%m%d-*.pcap\"");
	cr_expect_eq(rc, 1, "%s", out);
	free(out);
	cr_assert_eq(mails(), 3);
	m = mail(2);
	cr_expect(strstr(m, "Subject: mxlag: report FAILED for 2026-01-01") != NULL, "%s", m);
	cr_expect(strstr(m, "missing.db") != NULL, "%s", m);
	cr_expect(strstr(m, "(no capture files ") != NULL, "%s", m);
	free(m);
	/* bad usage: no mail, exit 2 */
	rc = run(&out, "UTC", "2026-01-02 00:15", "--day 2026-13-45");
	cr_expect_eq(rc, 2, "%s", out);
	free(out);
	cr_expect_eq(mails(), 3);
}

Test(mail_report, shellcheck_clean)
{
	if (e2e_sh(NULL, "command -v shellcheck >/dev/null") != 0) {
		cr_log_info("shellcheck not installed: not checked");
		return;
	}
	char *out = NULL;
	int rc = e2e_sh(&out, "shellcheck -s sh '%s' 2>&1", script);
	cr_expect_eq(rc, 0, "%s", out);
	free(out);
}

/* The command lines as shipped: the cron entry's (after cron's \% -> %)
 * and the service's ExecStart= (after systemd's %% -> %, no shell: no
 * globbing), with the database and capture paths moved into the test
 * directory; each mails the day's report. */
Test(mail_report, shipped_cron_and_unit_commands_run)
{
	const char *src = getenv("MXLAG_SRC");
	char *out = NULL;
	int rc = e2e_sh(&out,
			"cd '%s' && sed -n 's/^15 1 \\* \\* \\*  mxlag  //p' '%s/examples/cron/mxlag.cron' | "
			"sed 's/\\\\%%/%%/g; s|/var/lib/mxlag/|%s/cron-|; s|/var/tmp/|%s/cap/|' > cron.cmd && "
			"test $(wc -l < cron.cmd) = 1 && "
			/* cron ends the command at an unescaped % */
			"! sed -n 's/^15 1 \\* \\* \\*  mxlag  //p' '%s/examples/cron/mxlag.cron' | "
			"grep -q '[^\\]%%' && cat cron.cmd",
			dir, src, dir, dir, src);
	cr_assert_eq(rc, 0, "one cron line, every %% escaped: %s", out);
	cr_expect(strstr(out, "mxlag-mail-report --db ") == out, "%s", out);
	free(out);
	/* cron finds the script on its PATH, as it would in /usr/local/bin */
	cr_assert_eq(e2e_sh(NULL, "ln -s '%s' '%s/bin/mxlag-mail-report'", script, dir), 0);
	rc = e2e_sh(&out,
		    "cd '%s' && sed -n 's/^ExecStart=//p' '%s/examples/systemd/mxlag-report.service' | "
		    "sed 's/%%%%/%%/g; s|/usr/local/bin/mxlag-mail-report|sh %s|; "
		    "s|/var/lib/mxlag/|%s/unit-|; s|/var/tmp/|%s/cap/|' > unit.cmd && "
		    "test $(wc -l < unit.cmd) = 1 && "
		    /* systemd expands %X specifiers: every literal % is %% */
		    "! grep '^ExecStart=' '%s/examples/systemd/mxlag-report.service' | "
		    "grep -Eq '(^|[^%%])%%([^%%]|$)' && cat unit.cmd",
		    dir, src, script, dir, dir, src);
	cr_assert_eq(rc, 0, "one ExecStart, every %% doubled: %s", out);
	free(out);
	static const char *const which[] = {"cron.cmd", "unit.cmd"};
	for (int i = 0; i < 2; i++) {
		rc = e2e_sh(&out,
			    "cd '%s' && PATH='%s/bin':\"$(dirname '%s')\":\"$PATH\" MAILDIR='%s/mail' "
			    "MXLAG='%s' TZ=Europe/Berlin MXLAG_NOW='2026-01-02 01:15' "
			    "sh -c 'set -f; cd /; eval \"$(cat %s/%s)\"' 2>&1",
			    dir, dir, bin, dir, bin, dir, which[i]);
		cr_expect_eq(rc, 0, "%s: %s", which[i], out);
		free(out);
		cr_assert_eq(mails(), i + 1, "%s mails", which[i]);
		char *m = mail(i);
		expect_text_mail(m, "postmaster", "mxlag: 1 slow mail reply on 2026-01-01 on ");
		cr_expect(strstr(m, "mx-20260101-02.pcap: no packets") != NULL, "%s: %s", which[i], m);
		free(m);
	}
}
