//! Workspace automation for Fabric (not published).

pub mod bench;
pub mod crash;
pub mod layers;
pub mod snapshots;
pub mod tidy;
