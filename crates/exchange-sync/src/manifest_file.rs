//! `manifest.json` on disk: loading with its size limit, saving atomically.
//!
//! The manifest's types and its text form live in exchange-core
//! ([`exchange_core::manifest`]); this module adds the file.

use std::path::{Path, PathBuf};

use exchange_core::manifest::Manifest;

use crate::error::{Error, Result};

/// Loading and saving a [`Manifest`] as a file.
pub trait ManifestFile: Sized {
    /// Read and check `path`: a regular file of at most
    /// [`Limits::manifest`](crate::input_limits::Limits::manifest) bytes.
    fn load(path: &Path) -> Result<Self>;

    /// Save to `path` atomically, setting `updated_at` (and `created_at` when empty)
    /// to `now`.
    fn save(&mut self, path: &Path, now: time::OffsetDateTime) -> Result<()>;
}

impl ManifestFile for Manifest {
    fn load(path: &Path) -> Result<Self> {
        let invalid = |reason: &str| {
            Error::from(exchange_core::Error::Manifest {
                path: path.to_path_buf(),
                reason: reason.into(),
            })
        };
        let bytes = crate::input_limits::read_file(
            path,
            "manifest",
            crate::input_limits::get().manifest,
            "FABRIC_MAX_MANIFEST_BYTES",
        )
        .map_err(|e| match e {
            Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                invalid("not found (create one with `fabric exchange init`)")
            }
            e => e,
        })?;
        let text = String::from_utf8(bytes).map_err(|_| invalid("not valid UTF-8"))?;
        Ok(Manifest::parse(&text, path)?)
    }

    fn save(&mut self, path: &Path, now: time::OffsetDateTime) -> Result<()> {
        self.stamp(now);
        crate::fsio::write_atomic(path, self.to_text().as_bytes())
    }
}

/// The dataset folder of a manifest path (its parent folder).
pub fn dataset_dir(manifest_path: &Path) -> PathBuf {
    manifest_path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}
