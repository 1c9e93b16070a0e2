//! Versioned snapshot chains (seed 002): filled in by the snapshot-chain work.
