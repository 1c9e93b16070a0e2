//! `exchange verify`: the six checks of a pack's integrity, plus a seventh:
//! no `exchange_id` names two records with different content.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::Path;

use serde_json::{Value, json};

use crate::error::Result;
use crate::hash::ContentHash;
use crate::pack::{PackReader, read_index};

/// One failed check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Which check (1-7) failed.
    pub check: u8,
    /// The file at fault (relative to the dataset folder).
    pub file: String,
    /// 1-based line, 0 when the whole file is at fault.
    pub line: u64,
    /// The record's `exchange_id`, when known.
    pub exchange_id: Option<String>,
    /// What is wrong.
    pub message: String,
}

/// The outcome of `verify`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Records read.
    pub records: u64,
    /// Chunk files read.
    pub chunks: u64,
    /// Index lines read.
    pub index_lines: u64,
    /// Failed checks (verify fails when not empty).
    pub failures: Vec<Finding>,
    /// Chunk files no index line points at (check 6, reported as warnings).
    pub warnings: Vec<Finding>,
}

struct IndexSlot {
    line: u64,
    id: String,
    t: String,
    k: String,
    f: String,
    found_in_f: bool,
    id_ok: bool,
    id_seen: bool,
}

impl VerifyReport {
    /// Whether every check passed.
    pub fn ok(&self) -> bool {
        self.failures.is_empty()
    }

    /// The human report.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "Verify: {} ({} records, {} chunks, {} index lines)",
            if self.ok() { "OK" } else { "FAILED" },
            self.records,
            self.chunks,
            self.index_lines
        );
        for (label, list) in [("failure", &self.failures), ("warning", &self.warnings)] {
            for f in list {
                let _ = write!(s, "  {label} [check {}] {}", f.check, f.file);
                if f.line > 0 {
                    let _ = write!(s, " line {}", f.line);
                }
                if let Some(id) = &f.exchange_id {
                    let _ = write!(s, " record {id}");
                }
                let _ = writeln!(s, ": {}", f.message);
            }
        }
        s.trim_end().to_owned()
    }

    /// The JSON report.
    pub fn to_json(&self) -> Value {
        let list = |l: &[Finding]| -> Vec<Value> {
            l.iter()
                .map(|f| {
                    json!({"check": f.check, "file": f.file, "line": f.line,
                           "exchange_id": f.exchange_id, "message": f.message})
                })
                .collect()
        };
        json!({
            "ok": self.ok(),
            "records": self.records,
            "chunks": self.chunks,
            "index_lines": self.index_lines,
            "failures": list(&self.failures),
            "warnings": list(&self.warnings),
        })
    }
}

/// Run the seven checks on the dataset folder `dir`.
pub fn verify(dir: &Path) -> Result<VerifyReport> {
    // Read under the pack lock: no live writer's files, no killed writer's.
    let _lock = crate::pack::PackLock::reader(dir)?;
    let mut report = VerifyReport::default();
    let mut index: HashMap<ContentHash, IndexSlot> = HashMap::new();
    read_index(dir, |line, entry| {
        report.index_lines += 1;
        let fail = |message: String| Finding {
            check: 4,
            file: crate::pack::INDEX_FILE.into(),
            line,
            exchange_id: None,
            message,
        };
        match entry {
            Err(raw) => report
                .failures
                .push(fail(format!("unreadable index line: {}", truncate(&raw)))),
            Ok(e) => match e.h.parse::<ContentHash>() {
                Err(_) => report
                    .failures
                    .push(fail(format!("`h` is not a hash: {:?}", e.h))),
                Ok(h) => match index.entry(h) {
                    std::collections::hash_map::Entry::Occupied(_) => report
                        .failures
                        .push(fail(format!("hash {} is indexed twice", e.h))),
                    std::collections::hash_map::Entry::Vacant(slot) => {
                        slot.insert(IndexSlot {
                            line,
                            id: e.id,
                            t: e.t,
                            k: e.k,
                            f: e.f,
                            found_in_f: false,
                            id_ok: false,
                            id_seen: false,
                        });
                    }
                },
            },
        }
        Ok(())
    })?;
    let reader = PackReader::open(dir)?;
    let chunk_set: BTreeSet<String> = reader
        .files()
        .iter()
        .map(|p| crate::pack::slash_path(p))
        .collect();
    report.chunks = chunk_set.len() as u64;
    // Check 7: exchange_id -> (hash, where first seen).
    let mut ids: HashMap<String, (ContentHash, String, u64)> = HashMap::new();
    reader.for_each_line(|line| {
        let parsed = match crate::record::ExchangeRecord::parse_line(&line.text) {
            Ok(p) => p,
            Err(e) => {
                let (id, message) = match e {
                    crate::record::LineError::Json(e) => (None, format!("not valid JSON: {e}")),
                    crate::record::LineError::Record { exchange_id, reason } => (exchange_id, reason),
                };
                report.failures.push(Finding {
                    check: 1,
                    file: line.file.clone(),
                    line: line.line,
                    exchange_id: id,
                    message,
                });
                return Ok(());
            }
        };
        report.records += 1;
        let r = parsed.record;
        let computed = r.compute_hash();
        if computed != r.content_sha256 {
            let hint = if r.redactions_applied.is_empty() {
                ""
            } else {
                " (redactions_applied is not empty: probably redacted by the reference after hashing)"
            };
            report.failures.push(Finding {
                check: 2,
                file: line.file.clone(),
                line: line.line,
                exchange_id: Some(r.exchange_id.clone()),
                message: format!("content_sha256 is {} but the content hashes to {computed}{hint}", r.content_sha256),
            });
        }
        match ids.get(&r.exchange_id) {
            Some((h, file, at)) if *h != r.content_sha256 => report.failures.push(Finding {
                check: 7,
                file: line.file.clone(),
                line: line.line,
                exchange_id: Some(r.exchange_id.clone()),
                message: format!(
                    "exchange_id is also used by {file} line {at} with different content"
                ),
            }),
            Some(_) => {}
            None => {
                ids.insert(
                    r.exchange_id.clone(),
                    (r.content_sha256, line.file.clone(), line.line),
                );
            }
        }
        match index.get_mut(&r.content_sha256) {
            None => report.failures.push(Finding {
                check: 3,
                file: line.file.clone(),
                line: line.line,
                exchange_id: Some(r.exchange_id.clone()),
                message: format!("hash {} has no index line", r.content_sha256),
            }),
            Some(slot) => {
                if slot.f == line.file {
                    slot.found_in_f = true;
                }
                if slot.id == r.exchange_id {
                    slot.id_seen = true;
                    if slot.t == r.observed_at_text() && slot.k == r.index_key() {
                        slot.id_ok = true;
                    }
                }
            }
        }
        Ok(())
    })?;
    let mut referenced = BTreeSet::new();
    let mut slots: Vec<(&ContentHash, &IndexSlot)> = index.iter().collect();
    slots.sort_by_key(|(_, s)| s.line);
    for (h, slot) in slots {
        referenced.insert(slot.f.clone());
        let fail = |check, message: String| Finding {
            check,
            file: crate::pack::INDEX_FILE.into(),
            line: slot.line,
            exchange_id: Some(slot.id.clone()),
            message,
        };
        if !chunk_set.contains(&slot.f) {
            report
                .failures
                .push(fail(6, format!("`f` {} does not exist", slot.f)));
        } else if !slot.found_in_f {
            report.failures.push(fail(
                4,
                format!("`f` {} holds no record with hash {h}", slot.f),
            ));
        }
        if !slot.id_seen {
            report.failures.push(fail(
                5,
                format!("no record with hash {h} has exchange_id {}", slot.id),
            ));
        } else if !slot.id_ok {
            report.failures.push(fail(
                5,
                format!(
                    "`k`/`t` ({:?}, {:?}) do not match record {}",
                    slot.k, slot.t, slot.id
                ),
            ));
        }
    }
    for extra in chunk_set.difference(&referenced) {
        report.warnings.push(Finding {
            check: 6,
            file: extra.clone(),
            line: 0,
            exchange_id: None,
            message: "chunk is not named by any index line".into(),
        });
    }
    Ok(report)
}

fn truncate(s: &str) -> String {
    s.chars().take(80).collect()
}
