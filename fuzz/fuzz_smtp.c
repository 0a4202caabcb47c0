/* fuzz_smtp.c - libFuzzer target for the SMTP stream parser (see fuzz_stream.h). */
#include "analyze/software.h"
#include "fuzz_stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* the greeting reader on the raw bytes too (the parser gives it only greetings) */
	if (mx_software_detect((const char *)data, size, true) > MXS_EXCHANGE)
		__builtin_trap();
	return fuzz_stream(&smtp_parser_ops, data, size);
}
