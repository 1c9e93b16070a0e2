//! `exchange verify`: the six checks of a pack's integrity, plus a seventh:
//! no `exchange_id` names two records with different content.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::Path;

use serde_json::{Value, json};

use crate::error::Result;
use crate::hash::ContentHash;
use crate::pack::{PackLine, PackReader, read_index};

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
    verify_with_progress(dir, &mut |_, _| {})
}

/// [`verify`], calling `progress(bytes read, total bytes)` of the chunk files as
/// it goes (for a progress bar).
pub fn verify_with_progress(
    dir: &Path,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<VerifyReport> {
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
    let (mut report, index) = check_lines(&reader, report, index, progress)?;
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

/// What a worker found on one record line: all the in-order step needs.
enum Checked {
    /// Check 1 failed: the line is not a record.
    NotARecord(Finding),
    /// A record (check 2's finding, if its hash is wrong).
    Record {
        file: String,
        line: u64,
        exchange_id: String,
        hash: ContentHash,
        t: String,
        k: String,
        wrong_hash: Option<Finding>,
    },
}

/// Checks 1-3 and the index matching of check 4-5 over every chunk line: the
/// lines are read on one thread, parsed and re-hashed (the cost) on one worker
/// per core ([`crate::parallel`]), and matched against the index in line order
/// on this one, so the findings come out in the order a single thread would give.
fn check_lines(
    reader: &PackReader,
    mut report: VerifyReport,
    mut index: HashMap<ContentHash, IndexSlot>,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<(VerifyReport, HashMap<ContentHash, IndexSlot>)> {
    let total = reader.total_bytes();
    let mut done = 0u64;
    // Check 7: exchange_id -> (hash, where first seen).
    let mut ids = HashMap::new();
    crate::parallel::map_in_order(
        |emit| reader.for_each_line(emit),
        |batch: Vec<PackLine>| {
            let bytes: u64 = batch.iter().map(|l| l.text.len() as u64 + 1).sum();
            Ok((batch.into_iter().map(check_line).collect::<Vec<_>>(), bytes))
        },
        &mut |(checked, bytes), _| {
            done += bytes;
            progress(done.min(total), total);
            for c in checked {
                match_index(&mut report, &mut index, &mut ids, c);
            }
            Ok(())
        },
    )?;
    Ok((report, index))
}

/// Check 1 (a record) and 2 (its hash) of one line, read by the exchange line
/// reader ([`crate::line::read_record`]).
fn check_line(line: PackLine) -> Checked {
    let r = match crate::line::read_record(&line.text) {
        Ok(r) => r,
        Err(e) => {
            let (id, message) = match e {
                crate::record::LineError::Json(e) => (None, format!("not valid JSON: {e}")),
                crate::record::LineError::Record {
                    exchange_id,
                    reason,
                } => (exchange_id, reason),
            };
            return Checked::NotARecord(Finding {
                check: 1,
                file: line.file,
                line: line.line,
                exchange_id: id,
                message,
            });
        }
    };
    let wrong_hash = r.hash_mismatch().map(|message| Finding {
        check: 2,
        file: line.file.clone(),
        line: line.line,
        exchange_id: Some(r.exchange_id.clone()),
        message,
    });
    Checked::Record {
        t: r.observed_at_text(),
        k: r.index_key(),
        file: line.file,
        line: line.line,
        hash: r.content_sha256,
        exchange_id: r.exchange_id,
        wrong_hash,
    }
}

/// Where an `exchange_id` was first seen: its hash, file and line (check 7).
type SeenIds = HashMap<String, (ContentHash, String, u64)>;

/// Check 3, the line's part of checks 4-5, and check 7 (one `exchange_id`, one
/// content), in line order.
fn match_index(
    report: &mut VerifyReport,
    index: &mut HashMap<ContentHash, IndexSlot>,
    ids: &mut SeenIds,
    c: Checked,
) {
    let (file, line, exchange_id, hash, t, k, wrong_hash) = match c {
        Checked::NotARecord(finding) => {
            report.failures.push(finding);
            return;
        }
        Checked::Record {
            file,
            line,
            exchange_id,
            hash,
            t,
            k,
            wrong_hash,
        } => (file, line, exchange_id, hash, t, k, wrong_hash),
    };
    report.records += 1;
    report.failures.extend(wrong_hash);
    match ids.get(&exchange_id) {
        Some((h, first, at)) if *h != hash => report.failures.push(Finding {
            check: 7,
            file: file.clone(),
            line,
            exchange_id: Some(exchange_id.clone()),
            message: format!(
                "exchange_id is also used by {first} line {at} with different content"
            ),
        }),
        Some(_) => {}
        None => {
            ids.insert(exchange_id.clone(), (hash, file.clone(), line));
        }
    }
    match index.get_mut(&hash) {
        None => report.failures.push(Finding {
            check: 3,
            message: format!("hash {hash} has no index line"),
            file,
            line,
            exchange_id: Some(exchange_id),
        }),
        Some(slot) => {
            if slot.f == file {
                slot.found_in_f = true;
            }
            if slot.id == exchange_id {
                slot.id_seen = true;
                if slot.t == t && slot.k == k {
                    slot.id_ok = true;
                }
            }
        }
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(80).collect()
}
