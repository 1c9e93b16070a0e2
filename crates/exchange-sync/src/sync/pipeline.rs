//! Reading a pack for import: one thread reads lines, workers parse, verify and
//! hash them, and the caller's thread (the SQL writer) gets them back in pack order.

use std::path::Path;

use crate::error::{Error, Result};
use crate::hash::ContentHash;
use crate::line::{LineRead, LineRecord, Skip, read_line};
use crate::mirror::{MirrorRecord, Scope};
use crate::pack::{PackLine, PackReader};
pub use crate::parallel::Discard;

/// One verified pack record, ready for the mirror.
#[derive(Debug, Clone)]
pub struct Item {
    /// The row to write.
    pub record: MirrorRecord,
}

/// What a batch of lines became.
pub enum Parsed {
    /// A verified record.
    Item(Item),
    /// A well-formed line, in scope, whose stored hash the mirror held when the
    /// command started: not re-hashed (it is skipped unless this run removed that
    /// hash; then the engine verifies the kept line in full).
    Known(ContentHash, PackLine),
    /// A line skipped under `--lenient`, with why.
    Skipped(String),
}

/// Parse and verify one line (hash recomputed, scope checked, time present) and
/// check it against the mirror's column limits ([`crate::limits`]).
pub fn verify_line(dir: &Path, scope: &Scope, line: &PackLine) -> Result<Item> {
    let record = match crate::line::read_record(&line.text) {
        Ok(r) => r,
        Err(e) => return Err(line.error(dir, e)),
    };
    checked(dir, scope, line, record, line.text.clone())
}

/// Read one line with the exchange line reader ([`crate::line::read_line`]):
/// known when `known` holds its hash (see [`Parsed::Known`]), else the record
/// checked (scope, hash, time, column limits), its payload the line's own text
/// (moved, not copied).
fn read(
    dir: &Path,
    scope: &Scope,
    mut line: PackLine,
    known: &crate::hash::ContentHashSet,
) -> Result<Parsed> {
    let skip = Skip {
        known,
        source_system: &scope.source_system,
        entity_type: &scope.entity_type,
    };
    match read_line(&line.text, Some(skip)) {
        Ok(LineRead::Known(h)) => Ok(Parsed::Known(h, line)),
        Ok(LineRead::Record(r)) => {
            let payload = std::mem::take(&mut line.text);
            checked(dir, scope, &line, r, payload).map(Parsed::Item)
        }
        Err(e) => Err(line.error(dir, e)),
    }
}

/// The record `r` read from `line`, if it is in scope, its hash right, its time
/// present and its fields within the mirror's column limits
/// ([`crate::limits`]); `payload` is the line's text (`line.text` may be taken).
fn checked(
    dir: &Path,
    scope: &Scope,
    line: &PackLine,
    r: LineRecord,
    payload: String,
) -> Result<Item> {
    let path = || dir.join(&line.file);
    if r.source_system != scope.source_system || r.entity_type != scope.entity_type {
        return Err(Error::OutOfScope {
            path: path(),
            line: line.line,
            exchange_id: r.exchange_id.clone(),
            found: format!("{}/{}", r.source_system, r.entity_type),
            expected: format!("{}/{}", scope.source_system, scope.entity_type),
        });
    }
    if let Some(detail) = r.hash_mismatch() {
        return Err(Error::HashMismatch {
            path: path(),
            line: line.line,
            exchange_id: r.exchange_id,
            detail,
        });
    }
    let observed = r.observed_at_utc.ok_or_else(|| Error::Record {
        path: path(),
        line: line.line,
        exchange_id: Some(r.exchange_id.clone()),
        reason: "`observed_at_utc` is required to mirror a record".into(),
    })?;
    let record = MirrorRecord {
        payload_json: r.respelled.unwrap_or(payload),
        natural_key: r.lookup_key,
        exchange_id: r.exchange_id,
        exchange_type: r.exchange_type,
        source_system: r.source_system,
        entity_type: r.entity_type,
        observed_at_utc: crate::timestamp::truncate_micros(observed),
        content_sha256: r.content_sha256,
        schema_version: r.schema_version,
    };
    match crate::limits::check(&crate::limits::Fields::of(&record)) {
        None => Ok(Item { record }),
        Some(violation) => Err(Error::Limit {
            path: path(),
            line: line.line,
            exchange_id: record.exchange_id,
            violation,
        }),
    }
}

/// Stream the verified records of the pack in `dir` to `each`, in pack order,
/// parsing on worker threads ([`crate::parallel`]). `progress` gets the bytes
/// consumed so far.
pub fn for_each_item(
    dir: &Path,
    scope: &Scope,
    lenient: bool,
    known: &crate::hash::ContentHashSet,
    progress: &mut dyn FnMut(u64),
    each: &mut dyn FnMut(Vec<Parsed>, &Discard) -> Result<()>,
) -> Result<()> {
    let reader = PackReader::open(dir)?;
    let work = |lines: Vec<PackLine>| -> Result<(Vec<Parsed>, u64)> {
        let mut bytes = 0u64;
        let mut out = Vec::with_capacity(lines.len());
        for line in lines {
            bytes += line.text.len() as u64 + 1;
            match read(dir, scope, line, known) {
                Ok(parsed) => out.push(parsed),
                Err(e @ (Error::Json { .. } | Error::Record { .. })) if lenient => {
                    out.push(Parsed::Skipped(error_chain(&e)));
                }
                Err(e) => return Err(e),
            }
        }
        Ok((out, bytes))
    };
    let mut done = 0u64;
    crate::parallel::map_in_order(
        |emit| reader.for_each_line(emit),
        work,
        &mut |(batch, bytes), discard| {
            done += bytes;
            progress(done);
            each(batch, discard)
        },
    )
}

/// An error and its sources on one line (for warnings).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}
