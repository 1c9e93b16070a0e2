//! The exchange-record mirror table (seed 003, SQLite target): filled in by the
//! exchange work.
