//! `exchange add`: new records into a pack, redacted and hashed.

use std::io::BufRead;
use std::path::Path;

use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::error::{Error, Result};
use crate::hash::ContentHash;
use crate::manifest::{Manifest, dataset_dir};
use crate::nonfinite::find_overflow;
use crate::pack::{PackEntry, PackWriter};
use crate::record::{ExchangeRecord, Provenance};
use crate::redaction::Redactor;

/// How `add` runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddOptions {
    /// Write nothing; report what would be added.
    pub dry_run: bool,
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
            "chunks": self.chunks,
            "dry_run": self.dry_run,
        })
    }
}

/// A new random UUID v4 (lowercase, hyphenated).
pub fn new_uuid() -> String {
    use aes_gcm::aead::rand_core::RngCore;
    let mut b = [0u8; 16];
    aes_gcm::aead::OsRng.fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Build one new record from an input line: missing id, type, scope and time are
/// filled in, the request/response redacted, provenance completed, the hash
/// computed over the redacted content. NaN and infinities are refused.
pub fn prepare_record(
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
    let Value::Object(mut map) = value else {
        return Err(Error::Record {
            path: input.to_path_buf(),
            line: line_no,
            exchange_id: None,
            reason: "a record must be a JSON object".into(),
        });
    };
    let mut pointer = String::new();
    if let Some(p) = find_overflow(&Value::Object(map.clone()), &mut pointer) {
        return Err(Error::NonFinite {
            path: input.to_path_buf(),
            line: line_no,
            exchange_id: map
                .get("exchange_id")
                .and_then(Value::as_str)
                .map(String::from),
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
    let redacted = redactor.redact(&record.request, &record.response);
    record.request = redacted.request;
    record.response = redacted.response;
    for l in redacted.labels {
        if !record.redactions_applied.contains(&l) {
            record.redactions_applied.push(l);
        }
    }
    record.redactions_applied.sort();
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
    record.content_sha256 = record.compute_hash();
    Ok(record)
}

fn fill(map: &mut Map<String, Value>, key: &str, value: impl FnOnce() -> Value) {
    if matches!(map.get(key), None | Some(Value::Null)) {
        map.insert(key.to_owned(), value());
    }
}

/// Append the NDJSON records of `input` (named `input_name` in errors) to the pack
/// of `manifest_path`. Everything is checked before the first chunk is written
/// only per chunk: a bad line fails the command and leaves the index and manifest
/// untouched (chunks already written stay, unindexed, and `verify` reports them).
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
    // Prepare everything first: a bad line must not leave half a pack behind.
    let spool = tempfile::tempfile_in(&dir).map_err(|source| Error::Write {
        path: dir.clone(),
        source,
    })?;
    let mut spool = std::io::BufWriter::new(spool);
    let mut report = AddReport {
        dry_run: options.dry_run,
        ..AddReport::default()
    };
    let mut buf = String::new();
    let mut line_no = 0u64;
    loop {
        buf.clear();
        let n = input.read_line(&mut buf).map_err(|source| Error::Io {
            path: input_name.to_path_buf(),
            source,
        })?;
        if n == 0 {
            break;
        }
        line_no += 1;
        let line = buf.trim_end_matches(['\n', '\r']);
        if line.trim().is_empty() {
            continue;
        }
        let record = prepare_record(
            line,
            input_name,
            line_no,
            &manifest,
            &redactor,
            &options.provenance,
            now,
        )?;
        if !record.redactions_applied.is_empty() {
            report.redacted += 1;
        }
        report.added += 1;
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
    if options.dry_run || report.added == 0 {
        return Ok(report);
    }
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
