//! `exchange add`: new records into a pack, redacted and hashed.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;

use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::error::{Error, Result};
use crate::hash::ContentHash;
use crate::manifest::{Manifest, ManifestFile, dataset_dir};
use crate::nonfinite::find_overflow;
use crate::pack::{PackEntry, PackWriter};
use crate::record::{ExchangeRecord, Provenance};
use crate::redaction::Redactor;

/// How `add` runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddOptions {
    /// Write nothing; report what would be added.
    pub dry_run: bool,
    /// Each input line is a raw payload (any JSON value), stored as the
    /// `response` of a new envelope; otherwise each line is an envelope.
    pub raw: bool,
    /// Records per chunk.
    pub chunk_size: usize,
    /// Provenance values for the keys a record leaves empty.
    pub provenance: Provenance,
}

/// What `add` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddReport {
    /// Records added (or that would be).
    pub added: u64,
    /// Records where a redaction really replaced something.
    pub redacted: u64,
    /// Records whose content hash equals one earlier in this batch or one in the
    /// pack already (written, and indexed once).
    pub duplicates: u64,
    /// Whether the manifest's redaction policy is off (records stored unredacted).
    pub redaction_off: bool,
    /// Chunk files written (relative).
    pub chunks: Vec<String>,
    /// Nothing was written.
    pub dry_run: bool,
}

impl AddReport {
    /// The JSON form.
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "added": self.added,
            "redacted": self.redacted,
            "duplicates": self.duplicates,
            "redaction_off": self.redaction_off,
            "chunks": self.chunks,
            "dry_run": self.dry_run,
        })
    }
}

/// A new random UUID v4 (lowercase, hyphenated).
pub fn new_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// An input line is an envelope when it holds at least one of these keys (either
/// may be `null`; a missing one is `null`).
pub const ENVELOPE_KEYS: [&str; 2] = ["request", "response"];

/// Build one new record from an input line: missing id, type, scope and time are
/// filled in, provenance completed, every string redacted, the hash computed over
/// the redacted content. NaN and infinities are refused. A line that is not an
/// envelope (neither a `request` nor a `response` key) is refused; with `raw`, the line
/// is any JSON value, stored as the `response` of a new envelope.
#[allow(clippy::too_many_arguments)] // one input line and the context it is read in
pub fn prepare_record(
    raw: bool,
    line: &str,
    input: &Path,
    line_no: u64,
    manifest: &Manifest,
    redactor: &Redactor,
    provenance: &Provenance,
    now: OffsetDateTime,
) -> Result<ExchangeRecord> {
    let value: Value = match serde_json::from_str(line) {
        Ok(v) => v,
        Err(source) => {
            if crate::nonfinite::quote_literals(line).is_some() {
                return Err(Error::NonFinite {
                    path: input.to_path_buf(),
                    line: line_no,
                    exchange_id: None,
                    pointer: "(a NaN or Infinity literal)".into(),
                });
            }
            return Err(Error::Json {
                path: input.to_path_buf(),
                line: line_no,
                source,
            });
        }
    };
    let value = if raw {
        serde_json::json!({"request": null, "response": value})
    } else {
        value
    };
    let Value::Object(mut map) = value else {
        return Err(Error::Record {
            path: input.to_path_buf(),
            line: line_no,
            exchange_id: None,
            reason: "a record must be a JSON object (an envelope; --raw wraps any JSON value)"
                .into(),
        });
    };
    if !ENVELOPE_KEYS.iter().any(|k| map.contains_key(*k)) {
        return Err(Error::Record {
            path: input.to_path_buf(),
            line: line_no,
            exchange_id: claimed_id(&map),
            reason: "not an envelope: neither a request nor a response key (an envelope \
                     holds `request` and/or `response`, either may be null; --raw wraps a \
                     raw payload in one)"
                .into(),
        });
    }
    let mut pointer = String::new();
    if let Some(p) = find_overflow(&Value::Object(map.clone()), &mut pointer) {
        return Err(Error::NonFinite {
            path: input.to_path_buf(),
            line: line_no,
            exchange_id: claimed_id(&map),
            pointer: p,
        });
    }
    fill(&mut map, "exchange_id", || Value::String(new_uuid()));
    fill(&mut map, "exchange_type", || {
        Value::String(manifest.exchange_type.clone())
    });
    fill(&mut map, "source_system", || {
        Value::String(manifest.source_system.clone())
    });
    fill(&mut map, "entity_type", || {
        Value::String(manifest.entity_type.clone())
    });
    fill(&mut map, "observed_at_utc", || {
        Value::String(crate::timestamp::reference_text(now))
    });
    map.insert("content_sha256".into(), Value::String("0".repeat(64)));
    let mut record = ExchangeRecord::from_map(map).map_err(|e| match e {
        crate::record::LineError::Json(source) => Error::Json {
            path: input.to_path_buf(),
            line: line_no,
            source,
        },
        crate::record::LineError::Record {
            exchange_id,
            reason,
        } => Error::Record {
            path: input.to_path_buf(),
            line: line_no,
            exchange_id,
            reason,
        },
    })?;
    if record.source_system != manifest.source_system || record.entity_type != manifest.entity_type
    {
        return Err(Error::OutOfScope {
            path: input.to_path_buf(),
            line: line_no,
            exchange_id: record.exchange_id,
            found: format!("{}/{}", record.source_system, record.entity_type),
            expected: format!("{}/{}", manifest.source_system, manifest.entity_type),
        });
    }
    let p = record.provenance.get_or_insert_with(Provenance::default);
    p.runner_name = p
        .runner_name
        .take()
        .or_else(|| provenance.runner_name.clone());
    p.host = p.host.take().or_else(|| provenance.host.clone());
    p.git_sha = p.git_sha.take().or_else(|| provenance.git_sha.clone());
    p.connector_version = p
        .connector_version
        .take()
        .or_else(|| provenance.connector_version.clone());
    redactor.redact_record(&mut record);
    record.content_sha256 = record.compute_hash();
    Ok(record)
}

/// The `exchange_id` a refused record claims, if it holds one as a string, so the
/// error can name the record.
fn claimed_id(map: &Map<String, Value>) -> Option<String> {
    map.get("exchange_id")
        .and_then(Value::as_str)
        .map(String::from)
}

fn fill(map: &mut Map<String, Value>, key: &str, value: impl FnOnce() -> Value) {
    if matches!(map.get(key), None | Some(Value::Null)) {
        map.insert(key.to_owned(), value());
    }
}

/// Append the NDJSON records of `input` (named `input_name` in errors) to the pack
/// of `manifest_path`, holding the pack's writer lock for the whole command.
///
/// Every line is checked, redacted and spooled before the first chunk is written:
/// a bad line, a line over the line limit, or an `exchange_id` given twice with
/// different content (in the input, or already in the pack) fails the command
/// with nothing written. Records whose content hash is already in the batch or
/// the pack are written and counted in [`AddReport::duplicates`]. A dry run reads
/// and checks everything and writes nothing anywhere.
pub fn add(
    manifest_path: &Path,
    input: &mut dyn BufRead,
    input_name: &Path,
    options: &AddOptions,
    now: OffsetDateTime,
) -> Result<AddReport> {
    let manifest = Manifest::load(manifest_path)?;
    let redactor = Redactor::for_policy(&manifest.redaction_policy, manifest_path)?;
    let dir = dataset_dir(manifest_path);
    // Held until the index is written: no other writer, no reader in between.
    // A dry run takes none (it would create the lock file): it reads only the
    // index, which writers replace whole.
    let _lock = if options.dry_run {
        None
    } else {
        Some(crate::pack::PackLock::writer(&dir)?)
    };
    // What the pack holds already: id -> (hash, index line).
    let mut ids: HashMap<String, (ContentHash, String)> = HashMap::new();
    let mut hashes = crate::hash::ContentHashSet::default();
    crate::pack::read_index(&dir, |line, entry| {
        if let Ok(e) = entry
            && let Ok(h) = e.h.parse::<ContentHash>()
        {
            hashes.insert(h);
            ids.insert(
                e.id,
                (h, format!("{} line {line}", crate::pack::INDEX_FILE)),
            );
        }
        Ok(())
    })?;
    // Prepare everything first: a bad line must not leave half a pack behind.
    let mut spool = if options.dry_run {
        None
    } else {
        let file = tempfile::tempfile_in(&dir).map_err(|source| Error::Write {
            path: dir.clone(),
            source,
        })?;
        Some(std::io::BufWriter::new(file))
    };
    let mut report = AddReport {
        dry_run: options.dry_run,
        redaction_off: !redactor.enabled(),
        ..AddReport::default()
    };
    let mut buf = Vec::new();
    let mut line_no = 0u64;
    let limit = crate::input_limits::get().line;
    loop {
        let n = crate::input_limits::read_line(input, &mut buf, limit, input_name, || {
            format!("input line {}", line_no + 1)
        })?;
        if n == 0 {
            break;
        }
        line_no += 1;
        let text = std::str::from_utf8(&buf).map_err(|e| Error::Record {
            path: input_name.to_path_buf(),
            line: line_no,
            exchange_id: None,
            reason: format!("not valid UTF-8 at byte {}", e.valid_up_to()),
        })?;
        let line = text.trim_end_matches(['\n', '\r']);
        if line.trim().is_empty() {
            continue;
        }
        let record = prepare_record(
            options.raw,
            line,
            input_name,
            line_no,
            &manifest,
            &redactor,
            &options.provenance,
            now,
        )?;
        let here = format!("{} line {line_no}", input_name.display());
        match ids.get(&record.exchange_id) {
            Some((h, _)) if *h == record.content_sha256 => {}
            Some((_, first)) => {
                return Err(Error::Record {
                    path: input_name.to_path_buf(),
                    line: line_no,
                    exchange_id: Some(record.exchange_id.clone()),
                    reason: format!(
                        "exchange_id already used by {first} with different content \
                         (an id names one record; give this one a new id or none)"
                    ),
                });
            }
            None => {
                ids.insert(
                    record.exchange_id.clone(),
                    (record.content_sha256, here.clone()),
                );
            }
        }
        if !hashes.insert(record.content_sha256) {
            report.duplicates += 1;
        }
        if record
            .redactions_applied
            .iter()
            .any(|l| l.starts_with("rule:"))
        {
            report.redacted += 1;
        }
        report.added += 1;
        let Some(spool) = spool.as_mut() else {
            continue;
        };
        use std::io::Write;
        // Spool the index facts (as an index line, `f` = the chunk date) and the
        // record line, so the second pass parses only the small line.
        let entry = PackEntry::from_record(&record);
        let meta = crate::pack::IndexEntry {
            h: entry.hash.to_hex(),
            k: entry.key,
            id: entry.exchange_id,
            t: entry.observed_at,
            f: entry.date.map(|d| d.to_string()).unwrap_or_default(),
        }
        .to_line();
        spool
            .write_all(meta.as_bytes())
            .and_then(|()| spool.write_all(b"\n"))
            .and_then(|()| spool.write_all(entry.line.as_bytes()))
            .and_then(|()| spool.write_all(b"\n"))
            .map_err(|source| Error::Write {
                path: dir.clone(),
                source,
            })?;
    }
    let Some(spool) = spool.filter(|_| report.added > 0) else {
        return Ok(report);
    };
    let spool = spool.into_inner().map_err(|e| Error::Write {
        path: dir.clone(),
        source: e.into_error(),
    })?;
    let mut spool = std::io::BufReader::new(spool);
    use std::io::Seek;
    spool.rewind().map_err(|source| Error::Io {
        path: dir.clone(),
        source,
    })?;
    let mut writer = PackWriter::open(&dir, manifest, options.chunk_size, now)?;
    let mut lines = spool.lines();
    let bad = || Error::Internal("the add spool file is unreadable".into());
    while let Some(meta) = lines.next() {
        let io = |source| Error::Io {
            path: dir.clone(),
            source,
        };
        let meta = crate::pack::IndexEntry::parse(&meta.map_err(io)?).ok_or_else(bad)?;
        let line = lines.next().ok_or_else(bad)?.map_err(io)?;
        let date = if meta.f.is_empty() {
            None
        } else {
            let format = time::macros::format_description!("[year]-[month]-[day]");
            Some(time::Date::parse(&meta.f, &format).map_err(|_| bad())?)
        };
        writer.write(PackEntry {
            line,
            hash: meta.h.parse::<ContentHash>().map_err(|_| bad())?,
            key: meta.k,
            exchange_id: meta.id,
            observed_at: meta.t,
            date,
        })?;
    }
    report.chunks = writer.close()?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ids are lowercase hyphenated v4 UUIDs (version nibble 4, RFC 4122
    /// variant), the form SQL Server gives back, and are not repeated.
    #[test]
    fn new_ids_are_random_v4_uuids() {
        let ids: Vec<String> = (0..64).map(|_| new_uuid()).collect();
        for id in &ids {
            assert!(crate::limits::is_uuid(id), "{id}");
            assert_eq!(id.as_bytes().get(14), Some(&b'4'), "{id}");
            assert!(
                matches!(id.as_bytes().get(19), Some(b'8' | b'9' | b'a' | b'b')),
                "{id}"
            );
        }
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), ids.len());
    }
}
