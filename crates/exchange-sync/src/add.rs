//! `exchange add`: new records into a pack, redacted and hashed.
//!
//! Each input line is read by the lean reader when it can take it, else by the
//! full parse (serde_json), which gives every error. The lean reader reads the
//! payloads in one pass, writing their hash input and their pack line text as
//! it goes ([`crate::lean::read_written`]), when redaction would leave them as
//! they are (no key naming a secret, nothing the redactor's screen flags in
//! their strings); otherwise it reads them into trees
//! ([`crate::lean::read_new`]) for the redactor. Every road fills, redacts,
//! hashes and writes with the same functions (over [`crate::tree`]) or texts
//! written as they write them, so they write the same bytes. On 200,000
//! records of `gen_exchange.py` (1.9 KB each, one scope) on a 2-core machine,
//! `fabric exchange add` took 6.4 s wall and 12.1 s CPU (31,200 records/s)
//! with the full parse alone, 2.97 s and 5.3 s (67,300 records/s) with the
//! lean reader's trees, 2.32 s and 3.9 s (86,200 records/s) with the one pass
//! (medians of five alternated pairs; 1,000,000 records: 13.0 s, 77,000/s).
//! That is about 19 us of CPU a record: on the workers about 14 (the one pass
//! 6, the screen 2, SHA-256 1, filling the fields, the other strings and the
//! pack line the rest), the writer thread 4-5 (2 of them the kernel copying
//! the chunk files into the page cache), the reading thread 1. 100,000
//! records/s on two cores would need about 17. The chunk files are written and
//! synced behind the writer, on a thread of their own
//! ([`PackWriter::open_writing_behind`]), so a chunk's fsync no longer holds up
//! the records behind it: 1,000,000 records 12.4 s against 13.1 s (81,000/s;
//! the same run with the pack on tmpfs took 10.5 s, the rest is the disk).

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;

use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::canonical::HashFields;
use crate::error::{Error, Result};
use crate::hash::ContentHash;
use crate::lean::{NewRecord, Node, Payloads, Seen, Written};
use crate::manifest::{Manifest, ManifestFile, dataset_dir};
use crate::nonfinite::find_overflow;
use crate::pack::{PackEntry, PackWriter};
use crate::record::{ExchangeRecord, LineFields, Provenance};
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
    /// The input's size in bytes, when known (a regular file): the sets that
    /// grow with the records are then sized once, from the first batch's bytes
    /// per record, not grown step by step. A million-entry set grown by
    /// doubling stops the writer for tens of milliseconds at each step, and the
    /// workers with it.
    pub input_bytes: Option<u64>,
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
    Context::new(raw, manifest, redactor, provenance, now).full(line, input, line_no, new_uuid)
}

/// What an input line is read in: the command's options, the pack's manifest
/// and redactor, the provenance and time filled where a record has none.
struct Context<'a> {
    raw: bool,
    manifest: &'a Manifest,
    redactor: &'a Redactor,
    provenance: &'a Provenance,
    now: OffsetDateTime,
    /// `now` as a record holds it once filled in (written, then read back).
    observed_now: Option<OffsetDateTime>,
}

impl<'a> Context<'a> {
    fn new(
        raw: bool,
        manifest: &'a Manifest,
        redactor: &'a Redactor,
        provenance: &'a Provenance,
        now: OffsetDateTime,
    ) -> Self {
        Context {
            raw,
            manifest,
            redactor,
            provenance,
            now,
            observed_now: crate::timestamp::parse(&crate::timestamp::reference_text(now)),
        }
    }

    /// [`Context::full`]'s answer for `line` (as the pack entry it becomes), or
    /// `None` when the line must take the full parse, which then gives the
    /// answer or the error. The lean reader reads the line in one pass (no
    /// serde_json tree, numbers kept as text): [`Context::one_pass`] when
    /// redaction leaves the payloads as they are, else [`Context::tree`]. The
    /// filling and the checks are the same, and the redaction, the hash and
    /// the pack line are the very functions of the full parse (over
    /// [`crate::tree`]), or texts written as they write them.
    fn fast(
        &self,
        line: &str,
        new_id: impl FnOnce() -> String,
        scratch: &mut Scratch,
    ) -> Option<Prepared> {
        let r = self
            .one_pass(line, scratch)
            .or_else(|| self.tree(line, &mut scratch.payloads))?;
        self.finish(line, r, new_id, scratch)
    }

    /// The payloads written as they are read ([`crate::lean::read_written`]),
    /// when no key in them names a secret and no redaction rule could fire on
    /// any of their strings (one screen over all of them): redaction would
    /// leave them as they are. `None`: ask [`Context::tree`].
    fn one_pass<'l>(
        &self,
        line: &'l str,
        scratch: &mut Scratch,
    ) -> Option<NewRecord<'l, Option<Written>>> {
        let redactor = self.redactor;
        let enabled = redactor.enabled();
        let strings = &mut scratch.strings;
        strings.clear();
        // The records of an input mostly hold the same keys in the same
        // order: the answer for the key at the same place in the record
        // before is taken when the key is the same (a comparison costs less
        // than the redactor's memo).
        let (keys, mut at) = (&mut scratch.keys, 0);
        let mut visit = |seen: Seen<'_>| match seen {
            Seen::Key(_) if !enabled => true,
            Seen::Key(k) => {
                let secret = match keys.get_mut(at) {
                    Some((before, secret)) => {
                        if before != k {
                            before.clear();
                            before.push_str(k);
                            *secret = redactor.is_secret_key(k);
                        }
                        *secret
                    }
                    None => {
                        let secret = redactor.is_secret_key(k);
                        keys.push((k.to_owned(), secret));
                        secret
                    }
                };
                at += 1;
                !secret
            }
            Seen::Text(t) => {
                if enabled {
                    strings.push_str(t);
                    strings.push('\n');
                }
                true
            }
        };
        let r = crate::lean::read_written(line, self.raw, &mut scratch.payloads, &mut visit)?;
        redactor.passes_over(strings).then_some(r)
    }

    /// The payloads read into trees ([`crate::lean::read_new`]), redacted, then
    /// written in both forms.
    fn tree<'l>(
        &self,
        line: &'l str,
        payloads: &mut Payloads,
    ) -> Option<NewRecord<'l, Option<Written>>> {
        let mut r = crate::lean::read_new(line, self.raw)?;
        self.redactor.redact_fields(
            [&mut r.request, &mut r.response],
            std::iter::empty(),
            std::iter::empty(),
            &mut r.redactions_applied,
        );
        payloads.clear();
        let request = payloads.write(&r.request);
        let response = payloads.write(&r.response);
        Some(r.with_payloads(request, response))
    }

    /// The pack entry of `r` (read from `line`, its payloads redacted and
    /// written in `scratch`): fields filled, the other strings redacted (the
    /// labels join the payloads' own), hashed.
    fn finish(
        &self,
        line: &str,
        mut r: NewRecord<'_, Option<Written>>,
        new_id: impl FnOnce() -> String,
        scratch: &mut Scratch,
    ) -> Option<Prepared> {
        let m = self.manifest;
        let source_system = r
            .source_system
            .take()
            .unwrap_or(Cow::Borrowed(&m.source_system));
        let entity_type = r
            .entity_type
            .take()
            .unwrap_or(Cow::Borrowed(&m.entity_type));
        if source_system != m.source_system || entity_type != m.entity_type {
            return None;
        }
        let exchange_type = r
            .exchange_type
            .take()
            .unwrap_or(Cow::Borrowed(&m.exchange_type));
        let observed = match &r.observed_at_utc {
            Some(text) => crate::timestamp::parse(text)?,
            None => self.observed_now?,
        };
        let exchange_id = r.exchange_id.take().map_or_else(new_id, Cow::into_owned);
        r.provenance.complete(self.provenance);
        let mut applied = std::mem::take(&mut r.redactions_applied);
        // The payloads were redacted already (their labels are in `applied`).
        // The other strings are screened at once: when no rule could fire on
        // any and there is no unknown key, redaction would only sort the labels.
        let joined = &mut scratch.strings;
        joined.clear();
        for s in r.strings_mut() {
            joined.push_str(s);
            joined.push('\n');
        }
        if r.extra.is_empty() && self.redactor.passes_over(joined) {
            if self.redactor.enabled() {
                applied.sort();
            }
        } else {
            let mut extra = std::mem::take(&mut r.extra);
            self.redactor.redact_fields(
                [&mut Node::Null, &mut Node::Null],
                r.strings_mut(),
                extra.iter_mut().map(|(k, v)| (&**k, v)),
                &mut applied,
            );
            r.extra = extra;
        }
        let (canonical_request, request) = scratch.payloads.texts(&r.request)?;
        let (canonical_response, response) = scratch.payloads.texts(&r.response)?;
        let observed_at = crate::timestamp::reference_text(observed);
        let mut fields = LineFields {
            exchange_id: &exchange_id,
            exchange_type: &exchange_type,
            source_system: &source_system,
            entity_type: &entity_type,
            natural_key: r.natural_key.as_deref(),
            request,
            response,
            observed_at_utc: Some(&observed_at),
            provenance: Some(&r.provenance),
            content_sha256: ContentHash([0; 32]),
            schema_version: r.schema_version,
            tags: &r.tags,
            redactions_applied: &applied,
            response_ref: r.response_ref.as_deref(),
        };
        let hash = HashFields {
            request: canonical_request,
            response: canonical_response,
            ..fields.hashed()
        }
        .hash_in(&mut scratch.hashed);
        fields.content_sha256 = hash;
        // The pack line is the input line respelled: about as long, plus a
        // space after each `:` and `,` of compact input and the filled fields.
        let capacity = line.len() + line.len() / 8 + 512;
        let mut line = scratch.lines.pop().unwrap_or_default();
        line.clear();
        line.reserve(capacity);
        fields.write_line_of_texts(&mut line, r.extra.iter().map(|(k, v)| (&**k, v)));
        let key = format!(
            "{source_system}|{entity_type}|{}",
            r.natural_key.as_deref().unwrap_or("")
        );
        Some(Prepared {
            redacted: applied.iter().any(|l| l.starts_with("rule:")),
            entry: PackEntry {
                line,
                hash,
                key,
                exchange_id,
                observed_at,
                date: Some(observed.date()),
            },
        })
    }

    /// [`prepare_record`], `new_id` giving the id of a record that has none.
    fn full(
        &self,
        line: &str,
        input: &Path,
        line_no: u64,
        new_id: impl FnOnce() -> String,
    ) -> Result<ExchangeRecord> {
        let Context {
            raw,
            manifest,
            redactor,
            provenance,
            now,
            ..
        } = *self;
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
        // Each top-level value in place (as `find_overflow` walks an object, without
        // a copy of the record to make it one value).
        let overflow = map.iter().find_map(|(k, v)| {
            let mut pointer = format!("/{}", k.replace('~', "~0").replace('/', "~1"));
            find_overflow(v, &mut pointer)
        });
        if let Some(p) = overflow {
            return Err(Error::NonFinite {
                path: input.to_path_buf(),
                line: line_no,
                exchange_id: claimed_id(&map),
                pointer: p,
            });
        }
        fill(&mut map, "exchange_id", || Value::String(new_id()));
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
        if record.source_system != manifest.source_system
            || record.entity_type != manifest.entity_type
        {
            return Err(Error::OutOfScope {
                path: input.to_path_buf(),
                line: line_no,
                exchange_id: record.exchange_id,
                found: format!("{}/{}", record.source_system, record.entity_type),
                expected: format!("{}/{}", manifest.source_system, manifest.entity_type),
            });
        }
        record
            .provenance
            .get_or_insert_with(Provenance::default)
            .complete(provenance);
        redactor.redact_record(&mut record);
        record.content_sha256 = record.compute_hash();
        Ok(record)
    }
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
/// Lines are read on one thread, prepared ([`prepare_record`]) on one worker per
/// core, and checked and written in input order on this one
/// (the worker pipeline import and verify share). A bad line, a line over the line limit, or an
/// `exchange_id` given twice with different content (in the input, or already in
/// the pack) fails the command with nothing written: the chunks written before
/// it are not yet in the index (the pack's commit point) and are removed with
/// the writer ([`PackWriter`]), and the first such problem in input order is the
/// one reported. Records whose content hash is already in the batch or the pack
/// are written and counted in [`AddReport::duplicates`]. A dry run reads and
/// checks everything and writes nothing anywhere.
pub fn add(
    manifest_path: &Path,
    input: &mut (dyn BufRead + Send),
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
    // What the pack holds already: id -> (hash, where first seen).
    let mut ids: HashMap<String, (ContentHash, Origin), _> =
        HashMap::with_hasher(foldhash::fast::RandomState::default());
    // The hashes the pack holds, for the duplicate count: kept here in a dry
    // run only (a real run asks its writer, which keeps the same set).
    let mut hashes = crate::hash::ContentHashSet::default();
    crate::pack::read_index(&dir, |line, entry| {
        if let Ok(e) = entry
            && let Ok(h) = e.h.parse::<ContentHash>()
        {
            if options.dry_run {
                hashes.insert(h);
            }
            ids.insert(e.id, (h, Origin::Index(line)));
        }
        Ok(())
    })?;
    let mut report = AddReport {
        dry_run: options.dry_run,
        redaction_off: !redactor.enabled(),
        ..AddReport::default()
    };
    // Opened at the first record: an input with none leaves the pack untouched.
    let mut writer: Option<PackWriter> = None;
    // The strings of the lines read and of the entries written come back to
    // be filled again: allocating and freeing a few KB per record, on
    // different threads, showed in the profile.
    let (read_tx, read_rx) = crossbeam_channel::unbounded::<String>();
    let (written_tx, written_rx) = crossbeam_channel::unbounded::<PackEntry>();
    let read = |emit: &mut dyn FnMut((u64, String)) -> Result<()>| {
        let mut line_no = 0u64;
        let limit = crate::input_limits::get().line;
        loop {
            // Read into a buffer back from a worker: the line goes on as it
            // was read, not copied.
            let mut buf = read_rx.try_recv().unwrap_or_default().into_bytes();
            let n = crate::input_limits::read_line(input, &mut buf, limit, input_name, || {
                format!("input line {}", line_no + 1)
            })?;
            if n == 0 {
                return Ok(());
            }
            line_no += 1;
            let text = String::from_utf8(buf).map_err(|e| Error::Record {
                path: input_name.to_path_buf(),
                line: line_no,
                exchange_id: None,
                reason: format!("not valid UTF-8 at byte {}", e.utf8_error().valid_up_to()),
            })?;
            if !text.trim().is_empty() {
                emit((line_no, text))?;
            }
        }
    };
    let context = Context::new(options.raw, &manifest, &redactor, &options.provenance, now);
    let prepare = |lines: Vec<(u64, String)>| -> Result<Vec<(u64, Result<Prepared>)>> {
        let mut scratch = Scratch {
            lines: written_rx.try_iter().map(|entry| entry.line).collect(),
            ..Scratch::default()
        };
        Ok(lines
            .into_iter()
            .map(|(line_no, text)| {
                let line = text.trim_end_matches(['\n', '\r']);
                let prepared = match context.fast(line, new_uuid, &mut scratch) {
                    Some(prepared) => Ok(prepared),
                    None => context
                        .full(line, input_name, line_no, new_uuid)
                        .map(|record| Prepared::of_record(&record)),
                };
                let _ = read_tx.send(text);
                (line_no, prepared)
            })
            .collect())
    };
    // The records the input holds, guessed at the first batch (the writer,
    // opened at the first record, is sized with it too).
    let mut expected: Option<usize> = None;
    crate::parallel::map_in_order(read, prepare, &mut |batch, _| {
        if expected.is_none()
            && let Some(input_bytes) = options.input_bytes
        {
            let (lines, bytes) = batch
                .iter()
                .filter_map(|(_, p)| p.as_ref().ok())
                .fold((0u64, 0u64), |(n, b), p| {
                    (n + 1, b + p.entry.line.len() as u64)
                });
            let n = crate::parallel::expected_items(input_bytes, bytes, lines);
            ids.reserve(n);
            if options.dry_run {
                hashes.reserve(n);
            }
            expected = Some(n);
        }
        for (line_no, prepared) in batch {
            let Prepared {
                mut entry,
                redacted,
            } = prepared?;
            let first = match ids.get(&entry.exchange_id) {
                Some((h, _)) if *h == entry.hash => false,
                Some((_, first)) => {
                    return Err(Error::Record {
                        path: input_name.to_path_buf(),
                        line: line_no,
                        exchange_id: Some(entry.exchange_id.clone()),
                        reason: format!(
                            "exchange_id already used by {} with different content \
                             (an id names one record; give this one a new id or none)",
                            first.describe(input_name)
                        ),
                    });
                }
                None => true,
            };
            report.redacted += u64::from(redacted);
            report.added += 1;
            if options.dry_run {
                report.duplicates += u64::from(!hashes.insert(entry.hash));
            } else {
                let w = match writer.as_mut() {
                    Some(w) => w,
                    None => {
                        let w = writer.insert(PackWriter::open_writing_behind(
                            &dir,
                            manifest.clone(),
                            options.chunk_size,
                            now,
                        )?);
                        w.reserve(expected.unwrap_or(0));
                        w
                    }
                };
                report.duplicates += u64::from(w.holds(&entry.hash));
                w.write_ref(&entry)?;
            }
            if first {
                // The entry is done with its id.
                let id = std::mem::take(&mut entry.exchange_id);
                ids.insert(id, (entry.hash, Origin::Input(line_no)));
            }
            // Back to a worker: its line is filled again, the rest freed there.
            let _ = written_tx.send(entry);
        }
        Ok(())
    })?;
    if let Some(writer) = writer {
        report.chunks = writer.close()?;
    }
    Ok(report)
}

/// Buffers a worker keeps from one record to the next (of one redactor).
#[derive(Default)]
struct Scratch {
    /// The payloads' texts.
    payloads: Payloads,
    /// The hashed text.
    hashed: String,
    /// The payloads' strings, for the redactor's screen.
    strings: String,
    /// Buffers for pack lines (of entries written before).
    lines: Vec<String>,
    /// The payloads' keys of the record before, in order, and whether each
    /// names a secret.
    keys: Vec<(String, bool)>,
}

/// One input line made ready on a worker.
#[derive(Debug, PartialEq, Eq)]
struct Prepared {
    /// The record's line and index facts.
    entry: PackEntry,
    /// A redaction rule really replaced something.
    redacted: bool,
}

impl Prepared {
    fn of_record(record: &ExchangeRecord) -> Self {
        Prepared {
            redacted: record
                .redactions_applied
                .iter()
                .any(|l| l.starts_with("rule:")),
            entry: PackEntry::from_record(record),
        }
    }
}

/// Where an `exchange_id` was first seen.
#[derive(Debug, Clone, Copy)]
enum Origin {
    /// That line of the pack's index.
    Index(u64),
    /// That line of the input.
    Input(u64),
}

impl Origin {
    fn describe(self, input_name: &Path) -> String {
        match self {
            Origin::Index(line) => format!("{} line {line}", crate::pack::INDEX_FILE),
            Origin::Input(line) => format!("{} line {line}", input_name.display()),
        }
    }
}

#[cfg(test)]
mod tests;
