//! Cold storage: `pack` a dataset folder into a deterministic zip
//! (optionally encrypted), `unpack` one safely into `OUT/<dataset_name>/`.

use std::io::{Cursor, Read, Seek, Write};
use std::path::{Component, Path, PathBuf};

use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::manifest::{MANIFEST_FILE, Manifest, dataset_dir};

/// The metadata entry added last to every archive.
pub const PACK_META: &str = "_pack_meta.json";
/// At most this many entries in an archive (zip bombs).
pub const MAX_ENTRIES: usize = 1_000_000;
/// At most this many uncompressed bytes in an archive (zip bombs).
pub const MAX_TOTAL_BYTES: u64 = 64 << 30;

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

/// The output name: `--out` with its last suffix replaced by `.zip`, plus `.enc`
/// when encrypting.
pub fn output_path(out: &Path, encrypt: bool) -> PathBuf {
    let zip = if out.extension().is_some_and(|e| e == "zip") {
        out.to_path_buf()
    } else {
        out.with_extension("zip")
    };
    if encrypt {
        let mut s = zip.into_os_string();
        s.push(".enc");
        PathBuf::from(s)
    } else {
        zip
    }
}

/// The files of a dataset folder to archive, relative with `/`, sorted. Skips an
/// old `_pack_meta.json` and Fabric's own temporary files.
pub fn dataset_files(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    // Best effort: a killed writer's unindexed chunks are not part of the pack.
    let _ = crate::pack::recover_killed_writers(dir);
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

/// Pack the dataset of `manifest_path` into `out` (see [`output_path`]). The zip is
/// deterministic: sorted entries, fixed timestamps and permissions, and
/// `packed_at` taken from the manifest's `updated_at`, so the same pack gives the
/// same bytes. With `passphrase`, the zip is encrypted as it is written (the
/// plaintext never reaches the disk, memory stays flat).
pub fn pack(
    manifest_path: &Path,
    out: &Path,
    passphrase: Option<&[u8]>,
    dry_run: bool,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<PackOutcome> {
    let manifest = Manifest::load(manifest_path)?;
    let dir = dataset_dir(manifest_path);
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
    let path = output_path(out, passphrase.is_some());
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

/// A safe relative path for an archive entry, or why it is refused. `\` counts as
/// a separator; `.` parts are dropped.
pub fn safe_entry_path(name: &str) -> std::result::Result<Vec<String>, String> {
    if name.contains('\0') {
        return Err("name holds a NUL byte".into());
    }
    let norm = name.replace('\\', "/");
    if norm.starts_with('/') {
        return Err("absolute path".into());
    }
    let bytes = norm.as_bytes();
    if bytes.len() >= 2 && bytes[1] == b':' {
        return Err("drive prefix".into());
    }
    let mut parts = Vec::new();
    for part in norm.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err("`..` component".into()),
            p if p.contains(':') => return Err("`:` in a path component".into()),
            p => parts.push(p.to_owned()),
        }
    }
    if parts.is_empty() {
        return Err("empty name".into());
    }
    // What the OS would make of it must stay relative too.
    let joined: PathBuf = parts.iter().collect();
    if joined
        .components()
        .any(|c| !matches!(c, Component::Normal(_)))
    {
        return Err("not a plain relative path".into());
    }
    Ok(parts)
}

/// Extract the archive `input` into `out/<dataset_name>/` (through a temporary
/// folder and a rename). `passphrase` is needed for an encrypted archive (a name
/// ending in `.enc` or content not starting with a zip header). Returns the folder.
pub fn unpack(
    input: &Path,
    out: &Path,
    passphrase: Option<&[u8]>,
    dry_run: bool,
) -> Result<PathBuf> {
    let raw = std::fs::read(input).map_err(|source| Error::Io {
        path: input.to_path_buf(),
        source,
    })?;
    unpack_bytes(
        raw,
        input,
        out,
        passphrase,
        crate::crypto::ITERATIONS,
        dry_run,
    )
}

/// [`unpack`] of an archive already in memory: `raw` is the file's content and
/// `input` only names it in errors. `iterations` is the PBKDF2 count for an
/// encrypted archive ([`crypto::ITERATIONS`](crate::crypto::ITERATIONS) for real
/// files; lower only in tests and fuzzing, see
/// [`crypto::encrypt_with_iterations`](crate::crypto::encrypt_with_iterations)).
pub fn unpack_bytes(
    raw: Vec<u8>,
    input: &Path,
    out: &Path,
    passphrase: Option<&[u8]>,
    iterations: u32,
    dry_run: bool,
) -> Result<PathBuf> {
    let is_zip = raw.starts_with(b"PK\x03\x04") || raw.starts_with(b"PK\x05\x06");
    let data: Zeroizing<Vec<u8>> = if is_zip {
        Zeroizing::new(raw)
    } else {
        let key = passphrase.ok_or_else(|| Error::MissingKey {
            var: crate::crypto::KEY_ENV.into(),
        })?;
        crate::crypto::decrypt_with_iterations(key, &raw, iterations).ok_or_else(|| {
            Error::Decrypt {
                path: input.to_path_buf(),
            }
        })?
    };
    let bad = |reason: String, source: Option<crate::error::BoxError>| Error::Archive {
        path: input.to_path_buf(),
        reason,
        source,
    };
    let mut zip = zip::ZipArchive::new(Cursor::new(data.as_slice()))
        .map_err(|e| bad("not a readable zip".into(), Some(Box::new(e))))?;
    if zip.len() > MAX_ENTRIES {
        return Err(bad(
            format!("{} entries (limit {MAX_ENTRIES})", zip.len()),
            None,
        ));
    }
    // Check every name first; find the manifest and an optional top-level folder.
    let mut names = Vec::with_capacity(zip.len());
    for i in 0..zip.len() {
        let f = zip
            .by_index_raw(i)
            .map_err(|e| bad(format!("entry {i}"), Some(Box::new(e))))?;
        let name = String::from_utf8_lossy(f.name_raw()).into_owned();
        if f.unix_mode().is_some_and(|m| m & 0o170000 == 0o120000) {
            return Err(bad(format!("entry {name:?} is a symbolic link"), None));
        }
        let is_dir = f.is_dir();
        let parts = safe_entry_path(&name)
            .map_err(|why| bad(format!("unsafe entry {name:?}: {why}"), None))?;
        names.push((parts, is_dir));
    }
    let root_manifest = names
        .iter()
        .any(|(p, d)| !d && p.len() == 1 && p[0] == MANIFEST_FILE);
    let strip = if root_manifest {
        None
    } else {
        let first = names.first().map(|(p, _)| p[0].clone());
        match first {
            Some(top)
                if names.iter().all(|(p, _)| p[0] == top)
                    && names
                        .iter()
                        .any(|(p, d)| !d && p.len() == 2 && p[1] == MANIFEST_FILE) =>
            {
                Some(top)
            }
            _ => return Err(bad("no manifest.json in the archive".into(), None)),
        }
    };
    let manifest_index = names
        .iter()
        .position(|(p, d)| {
            !d && p.len() == 1 + usize::from(strip.is_some())
                && p.last().is_some_and(|n| n == MANIFEST_FILE)
        })
        .ok_or_else(|| bad("no manifest.json in the archive".into(), None))?;
    let mut manifest_text = String::new();
    zip.by_index(manifest_index)
        .map_err(|e| bad("reading manifest.json".into(), Some(Box::new(e))))?
        .take(16 << 20)
        .read_to_string(&mut manifest_text)
        .map_err(|e| bad("reading manifest.json".into(), Some(Box::new(e))))?;
    let manifest = Manifest::parse(&manifest_text, &input.join(MANIFEST_FILE))?;
    let name = manifest.dataset_name.as_str();
    if safe_entry_path(name)
        .map(|p| p.len() != 1 || p[0] != name)
        .unwrap_or(true)
        || name.starts_with('.')
    {
        return Err(Error::Invalid {
            what: "dataset_name in the archive's manifest".into(),
            reason: format!("{name:?} is not a single safe folder name"),
        });
    }
    let target = out.join(name);
    if target.exists()
        && std::fs::read_dir(&target)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return Err(Error::OutputExists { path: target });
    }
    if dry_run {
        return Ok(target);
    }
    crate::fsio::create_private_dir_all(out).map_err(|source| Error::Write {
        path: out.to_path_buf(),
        source,
    })?;
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}.unpack-"))
        .tempdir_in(out)
        .map_err(|source| Error::Write {
            path: out.to_path_buf(),
            source,
        })?;
    // The folder becomes OUT/<dataset_name>: owner-only, whatever tempfile chose.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o700)).map_err(
            |source| Error::Write {
                path: tmp.path().to_path_buf(),
                source,
            },
        )?;
    }
    let mut total = 0u64;
    for (i, (parts, is_dir)) in names.iter().enumerate() {
        let rel: Vec<&String> = match &strip {
            Some(_) => parts.iter().skip(1).collect(),
            None => parts.iter().collect(),
        };
        if rel.is_empty() {
            continue;
        }
        let dest: PathBuf = rel.iter().fold(tmp.path().to_path_buf(), |p, c| p.join(c));
        if *is_dir {
            crate::fsio::create_private_dir_all(&dest).map_err(|source| Error::Write {
                path: dest.clone(),
                source,
            })?;
            continue;
        }
        if let Some(parent) = dest.parent() {
            crate::fsio::create_private_dir_all(parent).map_err(|source| Error::Write {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        let entry = zip
            .by_index(i)
            .map_err(|e| bad(format!("entry {}", parts.join("/")), Some(Box::new(e))))?;
        let mut limited = entry.take(MAX_TOTAL_BYTES - total + 1);
        let mut file = crate::fsio::create_private(&dest).map_err(|source| Error::Write {
            path: dest.clone(),
            source,
        })?;
        let n = std::io::copy(&mut limited, &mut file)
            .map_err(|e| bad(format!("extracting {}", parts.join("/")), Some(Box::new(e))))?;
        total += n;
        if total > MAX_TOTAL_BYTES {
            return Err(bad(
                format!("more than {MAX_TOTAL_BYTES} bytes uncompressed"),
                None,
            ));
        }
    }
    if target.exists() {
        std::fs::remove_dir(&target).map_err(|source| Error::Write {
            path: target.clone(),
            source,
        })?;
    }
    let tmp_path = tmp.keep();
    std::fs::rename(&tmp_path, &target).map_err(|source| {
        let _ = std::fs::remove_dir_all(&tmp_path);
        Error::Write {
            path: target.clone(),
            source,
        }
    })?;
    Ok(target)
}
