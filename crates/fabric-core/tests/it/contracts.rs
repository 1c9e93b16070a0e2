//! Contract snapshots.
