//! Workspace automation for Fabric (not published).

pub mod bench;
pub mod layers;
