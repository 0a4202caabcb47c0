/* fuzz_smtp.c - libFuzzer target for the SMTP stream parser (see fuzz_stream.h). */
#include "fuzz_stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_stream(&smtp_parser_ops, data, size);
}
