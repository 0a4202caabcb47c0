-- Version 1 -> 2: drops the secondary indexes no report uses.
--
-- The shipped reports were checked with EXPLAIN QUERY PLAN on a 100k-session
-- database: none of these four was ever chosen (the time windows are written
-- "(:since IS NULL OR ts >= :since)", which no index serves, and the slow
-- report is better served by transactions_latency).  Building them at the end
-- of a bulk load took half of the index build; every live insert paid for
-- them too.  Queries by hand still work, with a table scan.
DROP INDEX IF EXISTS sessions_start;
DROP INDEX IF EXISTS transactions_request;
DROP INDEX IF EXISTS dns_queries_qname;
DROP INDEX IF EXISTS dns_queries_server;
