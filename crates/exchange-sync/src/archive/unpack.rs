//! `unpack`: an archive into `OUT/<dataset_name>/`, checked whole before the
//! first byte is written (unsafe or duplicate names, symbolic links, declared
//! sizes, ratios, the total against the free space), through a temporary folder
//! that a dead unpack's successor removes.

use std::io::{Cursor, Read, Write};
use std::path::{Component, Path, PathBuf};

use zeroize::Zeroizing;

use super::{MAX_ENTRIES, PACK_META};
use crate::error::{Error, Result};
use crate::manifest::{MANIFEST_FILE, Manifest};

/// The raw name of every record of a zip's central directory, in order
/// (duplicates included), or `None` when the directory cannot be walked.
fn central_directory_names(zip: &[u8]) -> Option<Vec<Vec<u8>>> {
    let u16_at = |at: usize| -> Option<u64> {
        Some(u64::from(u16::from_le_bytes(
            zip.get(at..at + 2)?.try_into().ok()?,
        )))
    };
    let u32_at = |at: usize| -> Option<u64> {
        Some(u64::from(u32::from_le_bytes(
            zip.get(at..at + 4)?.try_into().ok()?,
        )))
    };
    let u64_at = |at: usize| -> Option<u64> {
        Some(u64::from_le_bytes(zip.get(at..at + 8)?.try_into().ok()?))
    };
    // The end of central directory record: the last `PK\x05\x06` (a comment of
    // up to 64 KiB may follow it).
    let floor = zip.len().saturating_sub(22 + 0xFFFF);
    let eocd = (floor..=zip.len().checked_sub(22)?)
        .rev()
        .find(|&i| zip.get(i..i + 4) == Some(b"PK\x05\x06"))?;
    let (mut entries, mut size, mut dir_end) = (u16_at(eocd + 10)?, u32_at(eocd + 12)?, eocd);
    if entries == 0xFFFF || size == 0xFFFF_FFFF {
        // Zip64: the locator sits right before the record and names the zip64 one.
        let locator = eocd.checked_sub(20)?;
        if zip.get(locator..locator + 4) != Some(b"PK\x06\x07") {
            return None;
        }
        let rec = usize::try_from(u64_at(locator + 8)?).ok()?;
        if zip.get(rec..rec + 4) != Some(b"PK\x06\x06") {
            return None;
        }
        entries = u64_at(rec + 32)?;
        size = u64_at(rec + 40)?;
        dir_end = rec;
    }
    let mut at = dir_end.checked_sub(usize::try_from(size).ok()?)?;
    let mut names = Vec::new();
    for _ in 0..entries {
        if zip.get(at..at + 4) != Some(b"PK\x01\x02") {
            return None;
        }
        let name_len = usize::try_from(u16_at(at + 28)?).ok()?;
        let extra_len = usize::try_from(u16_at(at + 30)?).ok()?;
        let comment_len = usize::try_from(u16_at(at + 32)?).ok()?;
        names.push(zip.get(at + 46..at + 46 + name_len)?.to_vec());
        at += 46 + name_len + extra_len + comment_len;
    }
    Some(names)
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

/// The limits `unpack` checks before it writes anything (zip bombs), each
/// raised by a flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnpackLimits {
    /// No entry larger than this, declared or inflated (`--max-entry-bytes`,
    /// default 4 GiB).
    pub max_entry: u64,
    /// No entry over [`RATIO_FLOOR`] bytes inflating more than this many times its
    /// compressed size (`--max-ratio`, default 200).
    pub max_ratio: u64,
    /// No more than this in total; `None`: the free space of the target's
    /// filesystem minus [`FREE_SPACE_MARGIN`] (`--max-total-bytes`).
    pub max_total: Option<u64>,
    /// No more entries than this.
    pub max_entries: usize,
}

/// 4 GiB.
pub const DEFAULT_MAX_ENTRY: u64 = 4 << 30;
/// 1:200.
pub const DEFAULT_MAX_RATIO: u64 = 200;
/// Entries this small are not held to the ratio (1 MiB).
pub const RATIO_FLOOR: u64 = 1 << 20;
/// Left free on the target's filesystem (256 MiB).
pub const FREE_SPACE_MARGIN: u64 = 256 << 20;

impl Default for UnpackLimits {
    fn default() -> Self {
        UnpackLimits {
            max_entry: DEFAULT_MAX_ENTRY,
            max_ratio: DEFAULT_MAX_RATIO,
            max_total: None,
            max_entries: MAX_ENTRIES,
        }
    }
}

/// Extract the archive `input` into `out/<dataset_name>/` (through a temporary
/// folder and a rename). `passphrase` is needed for an encrypted archive (a name
/// ending in `.enc` or content not starting with a zip header). Returns the folder.
///
/// The archive must be a regular file of at most
/// [`Limits::archive`](crate::input_limits::Limits::archive) bytes. Every entry is
/// checked against `limits` before the first byte is written (a refusal is
/// [`Error::Archive`] and writes nothing); inflated bytes are counted too, since
/// headers lie. Running out of space is [`Error::Write`] or [`Error::NoSpace`].
pub fn unpack(
    input: &Path,
    out: &Path,
    passphrase: Option<&[u8]>,
    dry_run: bool,
    limits: &UnpackLimits,
) -> Result<PathBuf> {
    let raw = read_archive(input)?;
    let iterations = crate::crypto::ITERATIONS;
    unpack_bytes(
        raw,
        input,
        out,
        passphrase,
        iterations,
        dry_run,
        limits,
        &mut |_, _| {},
    )
}

/// Read the archive `input` whole: a regular file of at most
/// [`Limits::archive`](crate::input_limits::Limits::archive) bytes. With
/// [`is_plain_zip`] and [`unpack_bytes`], a caller reads it once, looks at it (to
/// ask for a passphrase only when it is encrypted), then extracts it.
pub fn read_archive(input: &Path) -> Result<Vec<u8>> {
    let max = crate::input_limits::get().archive;
    crate::input_limits::read_file(input, "archive", max, "--max-archive-bytes")
}

/// Whether `raw` starts like a zip (an archive with entries, or an empty one);
/// anything else is taken as encrypted.
pub fn is_plain_zip(raw: &[u8]) -> bool {
    raw.starts_with(b"PK\x03\x04") || raw.starts_with(b"PK\x05\x06")
}

/// [`unpack`] of an archive already in memory (read by [`read_archive`], say):
/// `raw` is the file's content and `input` only names it in errors. `iterations`
/// is the PBKDF2 count of an encrypted archive
/// ([`crypto::ITERATIONS`](crate::crypto::ITERATIONS) for real files; lower only in
/// tests and fuzzing, see
/// [`crypto::encrypt_with_iterations`](crate::crypto::encrypt_with_iterations)).
/// It calls `progress(bytes written, total bytes)` as it extracts (for a progress
/// bar). The total is the sum of the entries' declared uncompressed sizes, known
/// once every entry has passed its checks and before the first byte is written; a
/// dry run reports `(0, total)` and writes nothing.
#[allow(clippy::too_many_arguments)] // reason: the one entry point with every knob; `unpack` is the short one
pub fn unpack_bytes(
    raw: Vec<u8>,
    input: &Path,
    out: &Path,
    passphrase: Option<&[u8]>,
    iterations: u32,
    dry_run: bool,
    limits: &UnpackLimits,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<PathBuf> {
    let is_zip = is_plain_zip(&raw);
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
    if zip.len() > limits.max_entries {
        return Err(bad(
            format!("{} entries (limit {})", zip.len(), limits.max_entries),
            None,
        ));
    }
    // Check every name and size first; find the manifest and an optional
    // top-level folder.
    let mut names = Vec::with_capacity(zip.len());
    let mut declared_total = 0u64;
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
        let size = f.size();
        let packed = f.compressed_size();
        if size > limits.max_entry {
            return Err(bad(
                format!(
                    "entry {name:?} declares {size} bytes, over the limit of {} \
                     (--max-entry-bytes raises it)",
                    limits.max_entry
                ),
                None,
            ));
        }
        if size > RATIO_FLOOR && size / packed.max(1) > limits.max_ratio {
            return Err(bad(
                format!(
                    "entry {name:?} inflates {packed} bytes to {size}, a ratio over 1:{} \
                     (--max-ratio raises it)",
                    limits.max_ratio
                ),
                None,
            ));
        }
        declared_total = declared_total.saturating_add(size);
        names.push((parts, is_dir, size));
    }
    // One name, one entry: a second manifest or chunk would silently replace the
    // first. Only `_pack_meta.json` may repeat (an unpacked folder packed again
    // by the reference; the last one wins). The zip reader keeps one entry per
    // name, so the names are read from the central directory itself.
    let raw_names = central_directory_names(&data).ok_or_else(|| {
        bad(
            "the central directory cannot be read entry by entry".into(),
            None,
        )
    })?;
    let mut seen = std::collections::HashSet::new();
    for raw in &raw_names {
        let name = String::from_utf8_lossy(raw).into_owned();
        let parts = safe_entry_path(&name)
            .map_err(|why| bad(format!("unsafe entry {name:?}: {why}"), None))?;
        let key = parts.join("/");
        let is_dir = name.ends_with('/') || name.ends_with('\\');
        if !is_dir && !seen.insert(key.clone()) && parts.last().is_none_or(|n| n != PACK_META) {
            return Err(bad(format!("entry {key:?} appears more than once"), None));
        }
    }
    let root_manifest = names
        .iter()
        .any(|(p, d, _)| !d && p.len() == 1 && p[0] == MANIFEST_FILE);
    let strip = if root_manifest {
        None
    } else {
        let first = names.first().map(|(p, _, _)| p[0].clone());
        match first {
            Some(top)
                if names.iter().all(|(p, _, _)| p[0] == top)
                    && names
                        .iter()
                        .any(|(p, d, _)| !d && p.len() == 2 && p[1] == MANIFEST_FILE) =>
            {
                Some(top)
            }
            _ => return Err(bad("no manifest.json in the archive".into(), None)),
        }
    };
    let manifest_index = names
        .iter()
        .position(|(p, d, _)| {
            !d && p.len() == 1 + usize::from(strip.is_some())
                && p.last().is_some_and(|n| n == MANIFEST_FILE)
        })
        .ok_or_else(|| bad("no manifest.json in the archive".into(), None))?;
    let manifest_limit = crate::input_limits::get().manifest;
    let mut manifest_bytes = Vec::new();
    zip.by_index(manifest_index)
        .map_err(|e| bad("reading manifest.json".into(), Some(Box::new(e))))?
        .take(manifest_limit + 1)
        .read_to_end(&mut manifest_bytes)
        .map_err(|e| bad("reading manifest.json".into(), Some(Box::new(e))))?;
    if manifest_bytes.len() as u64 > manifest_limit {
        return Err(Error::TooLarge {
            path: input.join(MANIFEST_FILE),
            what: "manifest".into(),
            limit: manifest_limit,
            flag: "FABRIC_MAX_MANIFEST_BYTES".into(),
        });
    }
    let manifest_text = String::from_utf8(manifest_bytes)
        .map_err(|_| bad("manifest.json is not UTF-8".into(), None))?;
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
    if let Some(max) = limits.max_total
        && declared_total > max
    {
        return Err(bad(
            format!(
                "entries declare {declared_total} bytes in total, over the limit of {max} \
                 (--max-total-bytes raises it)"
            ),
            None,
        ));
    }
    progress(0, declared_total);
    if dry_run {
        return Ok(target);
    }
    crate::unpack_temp::remove_dead(out);
    if limits.max_total.is_none() {
        let free = crate::fsio::free_space(out).map_err(|source| Error::Io {
            path: out.to_path_buf(),
            source,
        })?;
        let needed = declared_total.saturating_add(FREE_SPACE_MARGIN);
        if needed > free {
            return Err(Error::NoSpace {
                path: out.to_path_buf(),
                needed,
                free,
            });
        }
    }
    crate::fsio::create_private_dir_all(out).map_err(|source| Error::Write {
        path: out.to_path_buf(),
        source,
    })?;
    let tmp = crate::unpack_temp::UnpackTemp::create(out, name)?;
    let mut buf = vec![0u8; 1 << 16];
    let mut written = 0u64;
    for (i, (parts, is_dir, declared)) in names.iter().enumerate() {
        let rel: Vec<&String> = match &strip {
            Some(_) => parts.iter().skip(1).collect(),
            None => parts.iter().collect(),
        };
        if rel.is_empty() {
            continue;
        }
        let dest: PathBuf = rel.iter().fold(tmp.path().to_path_buf(), |p, c| p.join(c));
        let write = |source| Error::Write {
            path: dest.clone(),
            source,
        };
        if *is_dir {
            crate::fsio::create_private_dir_all(&dest).map_err(write)?;
            continue;
        }
        if let Some(parent) = dest.parent() {
            crate::fsio::create_private_dir_all(parent).map_err(|source| Error::Write {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        let entry_name = parts.join("/");
        let entry = zip
            .by_index(i)
            .map_err(|e| bad(format!("entry {entry_name}"), Some(Box::new(e))))?;
        // Headers lie: never inflate past the declared size.
        let mut limited = entry.take(declared.saturating_add(1));
        let mut file = crate::fsio::create_private(&dest).map_err(write)?;
        let mut n = 0u64;
        loop {
            let got = limited
                .read(&mut buf)
                .map_err(|e| bad(format!("extracting {entry_name}"), Some(Box::new(e))))?;
            if got == 0 {
                break;
            }
            n += got as u64;
            if n > *declared {
                return Err(bad(
                    format!("entry {entry_name:?} inflates past its declared {declared} bytes"),
                    None,
                ));
            }
            file.write_all(&buf[..got]).map_err(write)?;
            written = written.saturating_add(got as u64);
            progress(written, declared_total);
        }
    }
    if target.exists() {
        std::fs::remove_dir(&target).map_err(|source| Error::Write {
            path: target.clone(),
            source,
        })?;
    }
    tmp.finish(&target)?;
    Ok(target)
}
