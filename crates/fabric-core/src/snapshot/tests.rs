//! Unit tests for snapshots.
