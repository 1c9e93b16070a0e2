//! End-to-end tests of `fabric jobs` (filled in with the jobs work).
