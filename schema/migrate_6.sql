-- Version 5 -> 6: remedies per server software (issue 14).
--
-- sessions.software: the server software the greeting names (exim,
-- postfix, sendmail, dovecot, exchange, unknown; NULL: no greeting seen).
-- causes.remedy: the remedy of that one cause, naming that software's
-- setting (transactions.remedy stays the remedies of all its causes).
-- Rows stored before version 6 keep NULL in both: the software was not
-- told then, and their remedies are in transactions.remedy.
ALTER TABLE sessions ADD COLUMN software TEXT;
ALTER TABLE causes ADD COLUMN remedy TEXT;
