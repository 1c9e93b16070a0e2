//! End-to-end tests of `fabric chains` (filled in with the chains work).
