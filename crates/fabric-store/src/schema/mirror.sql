-- Schema version 2: the exchange-record mirror table (seed 003, SQLite target).
-- (Filled in by the exchange work.)
SELECT 1;
