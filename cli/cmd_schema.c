/*
 * cmd_schema.c - mxlag schema: the SQL schema of the database.
 */
#include <stdio.h>
#include <string.h>

#include "schema/store.h"
#include "cli/common.h"

int
cmd_schema(int argc, char **argv)
{
	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
		return cmd_help("schema");
	if (argc > 1) {
		fprintf(stderr, "mxlag schema: unexpected argument %s (mxlag help schema)\n",
		        argv[1]);
		return 2;
	}
	fputs(store_schema_sql(), stdout);
	return 0;
}
