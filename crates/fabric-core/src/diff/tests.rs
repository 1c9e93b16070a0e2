//! Unit tests for diffs.
