//! Integration tests of exchange-sync: vectors, packs, sync, conformance.

mod canonical;
mod conformance;
mod pack;
mod redaction;
mod roundtrip;
