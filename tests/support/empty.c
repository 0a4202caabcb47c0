/* keeps the test-support library non-empty */
typedef int mxlag_empty_tu;
