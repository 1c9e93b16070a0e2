//! Reading a pack for import: one thread reads lines, workers parse, verify and
//! hash them, and the caller's thread (the SQL writer) gets them back in pack order.

use std::path::Path;

use crate::error::{Error, Result};
use crate::hash::ContentHash;
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
    let item = verify_form(dir, scope, line)?;
    match crate::limits::check(&crate::limits::Fields::of(&item.record)) {
        None => Ok(item),
        Some(violation) => Err(Error::Limit {
            path: dir.join(&line.file),
            line: line.line,
            exchange_id: item.record.exchange_id,
            violation,
        }),
    }
}

/// [`verify_line`] without the column limits.
fn verify_form(dir: &Path, scope: &Scope, line: &PackLine) -> Result<Item> {
    // The fast path accepts only lines that pass every check below with the same
    // values; anything else (including every error) goes through the full parse.
    if let Some(c) = crate::lean::check_line(&line.text, &scope.source_system, &scope.entity_type) {
        return Ok(Item {
            record: MirrorRecord {
                payload_json: line.text.clone(),
                natural_key: c.lookup_key,
                exchange_id: c.exchange_id,
                exchange_type: c.exchange_type,
                source_system: c.source_system,
                entity_type: c.entity_type,
                observed_at_utc: crate::timestamp::truncate_micros(c.observed_at_utc),
                content_sha256: c.content_sha256,
                schema_version: c.schema_version,
            },
        });
    }
    let parsed = line.parse(dir)?;
    // The record as read is the payload, unless it holds the bare
    // NaN/Infinity literals Fabric never writes: then its Fabric spelling.
    let raw_ok = !parsed.had_nan_literals;
    let r = parsed.record;
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
    let computed = r.compute_hash();
    if computed != r.content_sha256 {
        return Err(Error::HashMismatch {
            path: path(),
            line: line.line,
            exchange_id: r.exchange_id.clone(),
            detail: format!(
                "content_sha256 is {} but the content hashes to {computed}{}",
                r.content_sha256,
                if r.redactions_applied.is_empty() {
                    ""
                } else {
                    " (redactions_applied is not empty: probably redacted by the reference after hashing)"
                }
            ),
        });
    }
    let observed = r.observed_at_utc.ok_or_else(|| Error::Record {
        path: path(),
        line: line.line,
        exchange_id: Some(r.exchange_id.clone()),
        reason: "`observed_at_utc` is required to mirror a record".into(),
    })?;
    let record = MirrorRecord {
        payload_json: if raw_ok {
            line.text.clone()
        } else {
            r.to_line()
        },
        natural_key: r.lookup_key().map(String::from),
        exchange_id: r.exchange_id,
        exchange_type: r.exchange_type,
        source_system: r.source_system,
        entity_type: r.entity_type,
        observed_at_utc: crate::timestamp::truncate_micros(observed),
        content_sha256: r.content_sha256,
        schema_version: r.schema_version,
    };
    Ok(Item { record })
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
            if let Some(h) = known_hash(&line.text, scope, known) {
                out.push(Parsed::Known(h, line));
                continue;
            }
            match verify_line(dir, scope, &line) {
                Ok(item) => out.push(Parsed::Item(item)),
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

/// The envelope fields a light check reads (borrowed, no allocation).
#[derive(serde::Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    exchange_id: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    exchange_type: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    source_system: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    entity_type: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    content_sha256: std::borrow::Cow<'a, str>,
}

/// The stored hash of a syntactically valid, in-scope line whose hash is in
/// `known`, checked without building the record; `None` sends the line to the
/// full parse and verification.
fn known_hash(
    text: &str,
    scope: &Scope,
    known: &crate::hash::ContentHashSet,
) -> Option<ContentHash> {
    if known.is_empty() {
        return None;
    }
    // (A derived struct also reads a JSON array: only objects are records.)
    if !text.trim_start().starts_with('{') {
        return None;
    }
    let env: Envelope<'_> = serde_json::from_str(text).ok()?;
    let h: ContentHash = env.content_sha256.parse().ok()?;
    let ok = known.contains(&h)
        && env.source_system == scope.source_system
        && env.entity_type == scope.entity_type
        && !env.exchange_id.is_empty()
        && !env.exchange_type.is_empty();
    ok.then_some(h)
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

#[cfg(test)]
mod tests {
    use super::*;

    const H: &str = "6c7a510600d0989e9ba3191a3feb6a1e359dfb365fbae3658ac7534df7971eac";

    #[test]
    fn only_an_object_line_in_scope_with_a_known_hash_is_known() {
        let scope = Scope {
            source_system: "s".into(),
            entity_type: "e".into(),
        };
        let h: ContentHash = H.parse().unwrap_or_else(|e| panic!("{e}"));
        let known: crate::hash::ContentHashSet = [h].into_iter().collect();
        let object = format!(
            r#"{{"exchange_id": "i", "exchange_type": "t", "source_system": "s", "entity_type": "e", "content_sha256": "{H}", "request": [1, {{"a": null}}]}}"#
        );
        assert_eq!(known_hash(&object, &scope, &known), Some(h));
        // serde's derive would read the same fields from an array: that line is
        // no record, so it goes to the full parse (which names the error).
        let array = format!(r#"["i", "t", "s", "e", "{H}"]"#);
        assert_eq!(known_hash(&array, &scope, &known), None);
        let elsewhere = object.replace(r#""entity_type": "e""#, r#""entity_type": "x""#);
        assert_eq!(known_hash(&elsewhere, &scope, &known), None);
        let broken = object.replace("[1, ", "[1,, ");
        assert_eq!(known_hash(&broken, &scope, &known), None);
        assert_eq!(known_hash(&object, &scope, &Default::default()), None);
    }
}
