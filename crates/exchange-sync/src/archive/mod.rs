//! Cold storage: `pack` a dataset folder into a deterministic zip
//! (optionally encrypted, as the manifest's policy asks), `unpack` one safely
//! into `OUT/<dataset_name>/` (the `unpack` module: names, sizes and ratios are
//! checked before anything is written).

mod unpack;

use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::manifest::{Manifest, dataset_dir};

pub use unpack::{
    DEFAULT_MAX_ENTRY, DEFAULT_MAX_RATIO, FREE_SPACE_MARGIN, RATIO_FLOOR, UnpackLimits,
    is_plain_zip, read_archive, safe_entry_path, unpack, unpack_bytes,
};

/// The metadata entry added last to every archive.
pub const PACK_META: &str = "_pack_meta.json";
/// At most this many entries in an archive (zip bombs).
pub const MAX_ENTRIES: usize = 1_000_000;

/// What `pack` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackOutcome {
    /// The file written (`.zip` or `.zip.enc`).
    pub path: PathBuf,
    /// Entries in the zip, `_pack_meta.json` included.
    pub entries: u64,
    /// Uncompressed bytes of the dataset files.
    pub bytes: u64,
    /// Whether the file is encrypted.
    pub encrypted: bool,
}

/// Whether `pack` encrypts, decided before anything is read or written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encryption {
    /// Encrypt (asked for, or the manifest's policy).
    On,
    /// Plaintext: neither asked for nor required.
    Off,
    /// Plaintext although the manifest's policy requires encryption:
    /// `--no-encrypt` overrode it (the command says so).
    Overridden,
}

impl Encryption {
    /// The decision for a manifest whose `encryption_policy.enabled` is `policy`,
    /// given `--encrypt` and `--no-encrypt`. Both flags at once is an error.
    pub fn decide(policy: bool, encrypt: bool, no_encrypt: bool) -> Result<Self> {
        match (encrypt, no_encrypt) {
            (true, true) => Err(Error::Invalid {
                what: "--encrypt with --no-encrypt".into(),
                reason: "choose one".into(),
            }),
            (true, false) => Ok(Encryption::On),
            (false, true) if policy => Ok(Encryption::Overridden),
            (false, true) => Ok(Encryption::Off),
            (false, false) if policy => Ok(Encryption::On),
            (false, false) => Ok(Encryption::Off),
        }
    }
}

/// Whether a manifest's `encryption_policy` says `"enabled": true`.
pub fn policy_requires_encryption(manifest: &Manifest) -> bool {
    manifest
        .encryption_policy
        .get("enabled")
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(false)
}

/// The ending an archive's name must have: `.zip.enc` when encrypted, else
/// `.zip`. [`pack`] writes the name it is given; callers check it with
/// [`name_fits`].
pub fn archive_suffix(encrypted: bool) -> &'static str {
    if encrypted { ".zip.enc" } else { ".zip" }
}

/// Whether `out`'s file name is `NAME` plus [`archive_suffix`] (a plain archive
/// named `x.zip.enc`, or an encrypted one named `x.zip`, does not fit).
pub fn name_fits(out: &Path, encrypted: bool) -> bool {
    let name = out.file_name().map(|n| n.to_string_lossy().into_owned());
    let name = name.unwrap_or_default();
    let suffix = archive_suffix(encrypted);
    name.len() > suffix.len() && name.ends_with(suffix)
}

/// The files of a dataset folder to archive, relative with `/`, sorted. Skips an
/// old `_pack_meta.json` and Fabric's own temporary files.
pub fn dataset_files(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(dir).follow_links(false) {
        let entry = entry.map_err(|e| Error::Io {
            path: e
                .path()
                .map_or_else(|| dir.to_path_buf(), Path::to_path_buf),
            source: e
                .into_io_error()
                .unwrap_or_else(|| std::io::Error::other("walk loop")),
        })?;
        if !entry.file_type().is_file() {
            continue;
        }
        let Ok(rel) = entry.path().strip_prefix(dir) else {
            continue;
        };
        let name = crate::pack::slash_path(rel);
        let base = rel
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name == PACK_META
            || base == crate::pack::LOCK_FILE
            || base.starts_with(".index.pending-")
            || base.starts_with(".chunks.pending-")
            || base.contains(".tmp-")
        {
            continue;
        }
        files.push((name, entry.path().to_path_buf()));
    }
    files.sort();
    Ok(files)
}

/// Write the zip to `sink`; `out` (the archive) names write failures.
fn write_zip<W: Write + Seek>(
    sink: W,
    out: &Path,
    files: &[(String, PathBuf)],
    meta: &str,
    progress: &mut dyn FnMut(u64),
) -> Result<(W, u64)> {
    use zip::write::SimpleFileOptions;
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        // Fast deflate: packs are large and mostly compressible text; any level reads back.
        .compression_level(Some(1))
        .last_modified_time(zip::DateTime::default())
        .unix_permissions(0o644);
    let mut zip = zip::ZipWriter::new(sink);
    // The zip library fails on writes to the archive (I/O) or on a bad entry.
    let zerr = |path: &Path, e: zip::result::ZipError| match e {
        zip::result::ZipError::Io(source) => Error::Write {
            path: out.to_path_buf(),
            source,
        },
        e => Error::Archive {
            path: path.to_path_buf(),
            reason: "writing the zip".into(),
            source: Some(Box::new(e)),
        },
    };
    let mut bytes = 0u64;
    let mut buf = vec![0u8; 1 << 16];
    for (name, path) in files {
        zip.start_file(name.as_str(), options)
            .map_err(|e| zerr(path, e))?;
        let mut f = std::fs::File::open(path).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        loop {
            let n = f.read(&mut buf).map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?;
            if n == 0 {
                break;
            }
            zip.write_all(&buf[..n]).map_err(|source| Error::Write {
                path: out.to_path_buf(),
                source,
            })?;
            bytes += n as u64;
            progress(bytes);
        }
    }
    zip.start_file(PACK_META, options)
        .map_err(|e| zerr(Path::new(PACK_META), e))?;
    zip.write_all(meta.as_bytes())
        .map_err(|source| Error::Write {
            path: out.to_path_buf(),
            source,
        })?;
    let sink = zip.finish().map_err(|e| zerr(Path::new(PACK_META), e))?;
    Ok((sink, bytes))
}

/// Pack the dataset of the manifest `manifest`, read from `manifest_path` (the
/// caller reads it once, e.g. for its encryption policy), into the file `out`,
/// under exactly that name (see [`name_fits`] for the name a caller should give).
/// The zip is deterministic: sorted entries, fixed timestamps and permissions, and
/// `packed_at` taken from the manifest's `updated_at`, so the same pack gives the
/// same bytes. With `passphrase`, the zip is encrypted as it is written (the
/// plaintext never reaches the disk, memory stays flat).
pub fn pack(
    manifest: &Manifest,
    manifest_path: &Path,
    out: &Path,
    passphrase: Option<&[u8]>,
    dry_run: bool,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<PackOutcome> {
    let dir = dataset_dir(manifest_path);
    // Read under the pack lock: no live writer's files, no killed writer's.
    let _lock = crate::pack::PackLock::reader(&dir)?;
    let files = dataset_files(&dir)?;
    let total: u64 = files
        .iter()
        .filter_map(|(_, p)| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let folder = std::fs::canonicalize(&dir)
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| manifest.dataset_name.clone());
    let meta = serde_json::to_string_pretty(&serde_json::json!({
        "packed_at": manifest.updated_at,
        "dataset_name": folder,
        "encrypted": passphrase.is_some(),
    }))
    .unwrap_or_default();
    let path = out.to_path_buf();
    let outcome = PackOutcome {
        path: path.clone(),
        entries: files.len() as u64 + 1,
        bytes: total,
        encrypted: passphrase.is_some(),
    };
    if dry_run {
        return Ok(outcome);
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        crate::fsio::create_private_dir_all(parent).map_err(|source| Error::Write {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    let mut on_bytes = |b| progress(b, total);
    match passphrase {
        None => {
            let file = crate::fsio::AtomicFile::create(&path)?;
            let seekable = SeekableAtomic(file);
            let (file, _) = write_zip(seekable, &path, &files, &meta, &mut on_bytes)?;
            file.0.commit()?;
        }
        Some(key) => {
            // Encrypted as it is written (memory flat in the pack size; the
            // plaintext zip never reaches the disk).
            let sealed = crate::sealed_file::SealedFile::create(&path, key)?;
            let sink = std::io::BufWriter::with_capacity(1 << 16, sealed);
            let (sink, _) = write_zip(sink, &path, &files, &meta, &mut on_bytes)?;
            let sealed = sink.into_inner().map_err(|e| Error::Write {
                path: path.clone(),
                source: e.into_error(),
            })?;
            sealed.commit()?;
        }
    }
    Ok(outcome)
}

/// An [`AtomicFile`](crate::fsio::AtomicFile) the zip writer can seek in.
struct SeekableAtomic(crate::fsio::AtomicFile);

impl Write for SeekableAtomic {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

impl Seek for SeekableAtomic {
    fn seek(&mut self, pos: std::io::SeekFrom) -> std::io::Result<u64> {
        self.0.seek(pos)
    }
}

#[cfg(test)]
mod tests {
    use super::name_fits;
    use std::path::Path;

    #[test]
    fn a_name_fits_only_its_kind() {
        for (name, encrypted, fits) in [
            ("a.zip", false, true),
            ("a.zip", true, false),
            ("a.zip.enc", true, true),
            ("a.zip.enc", false, false),
            ("a.tar", false, false),
            ("a", true, false),
            (".zip", false, false),
            (".zip.enc", true, false),
            ("dir/a.zip.enc", true, true),
        ] {
            assert_eq!(
                name_fits(Path::new(name), encrypted),
                fits,
                "{name} {encrypted}"
            );
        }
    }
}
