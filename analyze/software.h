/*
 * software.h - which server software a greeting names.
 *
 * Called once per session, on the first line of the server's greeting
 * (SMTP 220/554 text after the code, POP3 +OK text): hostile input, read
 * within len and at most MX_SOFTWARE_SCAN bytes.
 */
#ifndef MXLAG_SOFTWARE_H
#define MXLAG_SOFTWARE_H

#include <stdbool.h>
#include <stddef.h>

#include "event.h"

#define MX_SOFTWARE_SCAN 512

/*
 * The product the greeting text names as a word of its own (letters,
 * digits, '.', '-' and '_' make a word; case is ignored): "Exim",
 * "Postfix", "Sendmail", "Dovecot", "Microsoft" (Exchange).  skip_host: the
 * first word is the server's host name (SMTP) and is not looked at.  No
 * product, or two different ones: MXS_UNKNOWN.
 */
enum mx_software mx_software_detect(const char *text, size_t len, bool skip_host);

#endif
