//! Integration tests of exchange-sync: vectors, packs, sync, conformance.

mod canonical;
mod mssql;
mod pack;
mod redaction;
