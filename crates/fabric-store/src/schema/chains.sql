-- Schema version 2: versioned snapshot chains and their activity log (seed 002).
-- (Filled in by the snapshot-chain work.)
SELECT 1;
