//! fabric-core integration tests: the compatibility vectors in
//! `tests/vectors/fabric`, the contract snapshots and the properties.

mod common;
mod contracts;
mod hostile;
mod invalid;
mod properties;
mod vectors;
