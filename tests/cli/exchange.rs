//! End-to-end tests of `fabric exchange` (filled in with the exchange work).
