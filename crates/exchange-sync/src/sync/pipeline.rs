//! Reading a pack for import: one thread reads lines, workers parse, verify and
//! hash them, and the caller's thread (the SQL writer) gets them back in pack order.

use std::path::Path;

use crate::error::{Error, Result};
use crate::hash::ContentHash;
use crate::line::{LineRead, LineRecord, Skip, read_line};
use crate::mirror::{MirrorRecord, Scope};
use crate::pack::reader::SharedLine;
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
    Known(ContentHash, SharedLine),
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
    checked(
        &|| dir.join(&line.file),
        line.line,
        scope,
        record,
        &line.text,
    )
}

/// Read one line with the exchange line reader ([`crate::line::read_line`]):
/// known when `known` holds its hash (see [`Parsed::Known`]), else the record
/// checked (scope, hash, time, column limits), its payload a copy of the
/// line's text (made here, on a worker).
fn read(
    dir: &Path,
    scope: &Scope,
    line: &SharedLine,
    text: &str,
    known: &crate::hash::ContentHashSet,
) -> Result<Parsed> {
    let skip = Skip {
        known,
        source_system: &scope.source_system,
        entity_type: &scope.entity_type,
    };
    let path = || dir.join(line.file());
    match read_line(text, Some(skip)) {
        Ok(LineRead::Known(h)) => Ok(Parsed::Known(h, line.clone())),
        Ok(LineRead::Record(r)) => checked(&path, line.line(), scope, r, text).map(Parsed::Item),
        Err(e) => Err(crate::pack::reader::line_error(path(), line.line(), e)),
    }
}

/// The record `r` read from line `line` of the chunk at `path`, if it is in
/// scope, its hash right, its time present and its fields within the mirror's
/// column limits ([`crate::limits`]); its payload is `text`, the line's own
/// text (copied once, here).
fn checked(
    path: &dyn Fn() -> std::path::PathBuf,
    line: u64,
    scope: &Scope,
    r: LineRecord,
    text: &str,
) -> Result<Item> {
    if r.source_system != scope.source_system || r.entity_type != scope.entity_type {
        return Err(Error::OutOfScope {
            path: path(),
            line,
            exchange_id: r.exchange_id.clone(),
            found: format!("{}/{}", r.source_system, r.entity_type),
            expected: format!("{}/{}", scope.source_system, scope.entity_type),
        });
    }
    if let Some(detail) = r.hash_mismatch() {
        return Err(Error::HashMismatch {
            path: path(),
            line,
            exchange_id: r.exchange_id,
            detail,
        });
    }
    let observed = r.observed_at_utc.ok_or_else(|| Error::Record {
        path: path(),
        line,
        exchange_id: Some(r.exchange_id.clone()),
        reason: "`observed_at_utc` is required to mirror a record".into(),
    })?;
    let record = MirrorRecord {
        payload_json: r.respelled.unwrap_or_else(|| text.to_owned()),
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
            line,
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
    let work = |lines: Vec<SharedLine>| -> Result<(Vec<Parsed>, u64)> {
        let mut bytes = 0u64;
        let mut out = Vec::with_capacity(lines.len());
        for line in lines {
            bytes += line.len() as u64 + 1;
            // Not UTF-8 stops the run, `--lenient` or not (as a read error).
            let text = line.text()?;
            match read(dir, scope, &line, text, known) {
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
        |emit| reader.for_each_shared_line(emit),
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
