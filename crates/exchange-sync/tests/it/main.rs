//! Integration tests of exchange-sync: vectors, packs, sync, conformance.

mod canonical;
mod conformance;
mod dataset_name;
mod fuzzed;
mod lock_order;
#[cfg(feature = "mssql")]
mod mssql;
#[cfg(feature = "mssql")]
mod mssql_grammar;
#[cfg(feature = "mssql")]
mod mssql_live;
mod pack;
#[cfg(feature = "postgres")]
mod postgres_live;
mod redaction;
mod roundtrip;
