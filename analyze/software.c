/*
 * software.c - the server software named by a greeting.
 *
 * What the programs say by default (and what a changed banner usually
 * keeps): exim "220 HOST ESMTP Exim 4.96 DATE", postfix "220 HOST ESMTP
 * Postfix (Debian/GNU)", sendmail "220 HOST ESMTP Sendmail 8.17.1.9/...;
 * DATE", Exchange "220 HOST Microsoft ESMTP MAIL Service ready at DATE" and
 * "+OK The Microsoft Exchange POP3 service is ready.", dovecot "+OK Dovecot
 * ready." / "+OK Dovecot (Debian) ready.".  qmail-smtpd greets "220 HOST
 * ESMTP" and nothing else, as does a postfix with a shortened banner, and
 * tcpserver writes nothing of its own (the POP3 server behind it greets):
 * neither is told, both are unknown.
 */
#include "software.h"

#include <string.h>

static const struct {
	const char *word;
	size_t len;
	enum mx_software sw;
} products[] = {
#define PRODUCT(word, sw) {word, sizeof(word) - 1, sw}
    PRODUCT("exim", MXS_EXIM),       PRODUCT("postfix", MXS_POSTFIX),
    PRODUCT("sendmail", MXS_SENDMAIL), PRODUCT("dovecot", MXS_DOVECOT),
    PRODUCT("microsoft", MXS_EXCHANGE),
#undef PRODUCT
};

static bool
word_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '-' || c == '_';
}

static bool
word_eq(const char *w, size_t n, const char *lower)
{
	size_t i = 0;
	for (; i < n && lower[i]; i++) {
		char c = w[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != lower[i])
			return false;
	}
	return i == n && !lower[i];
}

enum mx_software
mx_software_detect(const char *text, size_t len, bool skip_host)
{
	enum mx_software found = MXS_UNKNOWN;
	if (!text)
		return found;
	if (len > MX_SOFTWARE_SCAN)
		len = MX_SOFTWARE_SCAN;
	size_t i = 0;
	if (skip_host) {
		while (i < len && text[i] == ' ')
			i++;
		while (i < len && text[i] != ' ')
			i++;
	}
	while (i < len) {
		if (!word_char(text[i])) {
			i++;
			continue;
		}
		size_t start = i;
		while (i < len && word_char(text[i]))
			i++;
		for (size_t k = 0; k < sizeof(products) / sizeof(products[0]); k++) {
			/* the length first: most of a greeting's words are no product's */
			if (i - start != products[k].len ||
			    !word_eq(text + start, i - start, products[k].word))
				continue;
			if (found != MXS_UNKNOWN && found != products[k].sw)
				return MXS_UNKNOWN; /* names two: not told */
			found = products[k].sw;
		}
	}
	return found;
}
