/* fuzz_pop3.c - libFuzzer target for the POP3 stream parser (see fuzz_stream.h). */
#include "fuzz_stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_stream(&pop3_parser_ops, data, size);
}
