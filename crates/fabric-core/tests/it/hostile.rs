//! Hostile input, one table for every fabric-core parser: 100,000-deep nesting,
//! a huge single line, invalid UTF-8, a BOM, NUL bytes, `1e999` and `-0`,
//! duplicate keys, keys differing only by Unicode normalisation.
//!
//! Each input goes through every entry point that reads outside data (the job
//! parser, report -> snapshot, snapshot documents, snapshot diffs, the chain's
//! checksum / diff / apply and the canonical serialiser). None may panic or
//! overflow the stack; the table says which must be refused. The huge line is
//! 4 MB by default (the line of numbers a tenth of that: 100,000 numbers), far
//! beyond every read buffer and cheap in a debug `cargo test`;
//! `FABRIC_HOSTILE_MB=100` runs the issue's 100 MB (about 30 s in release), and
//! `FABRIC_HOSTILE_TIMING=1` prints each entry point's time.

use std::panic::{AssertUnwindSafe, catch_unwind};

use fabric_core::Error;
use fabric_core::chain;
use fabric_core::diff::diff_snapshots;
use fabric_core::ingest::parse_job;
use fabric_core::json::to_canonical_string;
use fabric_core::snapshot::{FabricSnapshot, snapshot_id};
use serde_json::Value;

use crate::common::{TestResult, ingested_at};

/// What the job parser must do with an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Job {
    /// Refused with [`Error::Ingest`] naming the file.
    Refused,
    /// Accepted.
    Accepted,
}

/// One hostile input.
struct Case {
    name: &'static str,
    bytes: Vec<u8>,
    job: Job,
}

fn nested(depth: usize, open: &str, inner: &str, close: &str) -> Vec<u8> {
    let mut s = String::with_capacity(depth * (open.len() + close.len()) + inner.len());
    for _ in 0..depth {
        s.push_str(open);
    }
    s.push_str(inner);
    for _ in 0..depth {
        s.push_str(close);
    }
    s.into_bytes()
}

/// A valid job whose `_metadata` holds `meta` and whose `job_id` is `id`.
fn job(id: &str, meta: &str) -> Vec<u8> {
    format!(
        r#"{{"job_id": {id}, "final_status": "COMPLETED", "started_at": "2025-01-01T00:00:00Z", "clips": [], "_metadata": {meta}}}"#
    )
    .into_bytes()
}

fn huge_line_bytes() -> usize {
    std::env::var("FABRIC_HOSTILE_MB")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(4)
        * 1_000_000
}

fn cases() -> Vec<Case> {
    let huge = huge_line_bytes();
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend(job(r#""bom""#, "{}"));
    let mut bad_utf8 = job(r#""x""#, "{}");
    bad_utf8.splice(13..13, [0xff, 0xfe, 0xc3]);
    vec![
        Case {
            name: "100k nested arrays",
            bytes: nested(100_000, "[", "", "]"),
            job: Job::Refused,
        },
        Case {
            name: "100k nested objects",
            bytes: nested(100_000, r#"{"a":"#, "1", "}"),
            job: Job::Refused,
        },
        Case {
            name: "100k nested arrays inside a job",
            bytes: job(r#""deep""#, &String::from_utf8_lossy(&nested(100_000, "[", "", "]"))),
            job: Job::Refused,
        },
        Case {
            name: "unclosed 100k nesting",
            bytes: b"[".repeat(100_000),
            job: Job::Refused,
        },
        Case {
            // serde_json's limit is 128 levels: the deepest document that parses.
            name: "127 nested objects inside a report",
            bytes: nested(126, r#"{"a":"#, "[1.50]", "}"),
            job: Job::Refused,
        },
        Case {
            name: "huge single-line job id",
            bytes: job(&format!("\"{}\"", "j".repeat(huge)), "{}"),
            job: Job::Accepted,
        },
        Case {
            // A tenth of the size: millions of numbers walk every structure.
            name: "long single line of numbers",
            bytes: format!(r#"{{"n": [{}1]}}"#, "1.5,".repeat(huge / 40)).into_bytes(),
            job: Job::Refused,
        },
        Case {
            name: "huge line of whitespace",
            bytes: vec![b' '; huge],
            job: Job::Refused,
        },
        Case {
            name: "invalid UTF-8",
            bytes: bad_utf8,
            job: Job::Refused,
        },
        Case {
            name: "leading BOM",
            bytes: bom,
            job: Job::Refused,
        },
        Case {
            name: "raw NUL byte in a string",
            bytes: job("\"a\0b\"", "{}"),
            job: Job::Refused,
        },
        Case {
            name: "NUL bytes after the document",
            bytes: [job(r#""x""#, "{}"), vec![0; 16]].concat(),
            job: Job::Refused,
        },
        Case {
            name: "escaped NUL in strings and keys",
            bytes: job(r#""a\u0000b""#, r#"{"engine_used": "x\u0000", "\u0000": 1}"#),
            job: Job::Accepted,
        },
        Case {
            name: "1e999 and -1e999",
            bytes: job(r#""big""#, r#"{"x": 1e999, "y": [-1e999]}"#),
            job: Job::Accepted,
        },
        Case {
            name: "-0 and -0.0",
            bytes: job(r#""zero""#, r#"{"a": -0, "b": -0.0, "c": 0e0, "d": -0E-0}"#),
            job: Job::Accepted,
        },
        Case {
            name: "huge integer and tiny float",
            bytes: job(
                r#""numbers""#,
                &format!(r#"{{"i": {}, "f": 1e-999}}"#, "9".repeat(5000)),
            ),
            job: Job::Accepted,
        },
        Case {
            name: "duplicate keys",
            bytes: br#"{"job_id": "first", "final_status": "FAILED", "started_at": "2025-01-01T00:00:00Z", "clips": [], "job_id": "last", "final_status": "COMPLETED"}"#.to_vec(),
            job: Job::Accepted,
        },
        Case {
            name: "keys differing only by Unicode normalisation",
            bytes: job(r#""caf\u00e9""#, "{\"caf\u{e9}\": 1, \"cafe\u{301}\": 2}"),
            job: Job::Accepted,
        },
        Case {
            name: "lone surrogate escape",
            bytes: job(r#""\ud800""#, "{}"),
            job: Job::Refused,
        },
        Case {
            name: "NaN and Infinity tokens",
            bytes: job(r#""nan""#, r#"{"x": NaN, "y": Infinity}"#),
            job: Job::Refused,
        },
    ]
}

/// Run `f`, turning a panic into an error naming the entry point.
/// With `FABRIC_HOSTILE_TIMING` set, each call's duration goes to stderr.
fn guarded<T>(what: &str, f: impl FnOnce() -> T) -> Result<T, String> {
    let started = std::time::Instant::now();
    let result = catch_unwind(AssertUnwindSafe(f)).map_err(|_| format!("{what} panicked"));
    if std::env::var_os("FABRIC_HOSTILE_TIMING").is_some() {
        eprintln!("  {what}: {:?}", started.elapsed());
    }
    result
}

/// Every reader of outside data in fabric-core, on one input.
fn exercise(case: &Case) -> Result<(), String> {
    let name = case.name;
    let parsed = guarded("parse_job", || {
        parse_job("hostile.json", &case.bytes, ingested_at(0), "/work")
    })?;
    match (&parsed, case.job) {
        (Err(Error::Ingest { file, .. }), Job::Refused) if file == "hostile.json" => {}
        (Ok(_), Job::Accepted) => {}
        (other, want) => {
            return Err(format!("{name}: parse_job gave {other:?}, want {want:?}"));
        }
    }
    if name == "duplicate keys" {
        let job = parsed.as_ref().map_err(|e| e.to_string())?;
        assert_eq!(job.job_id, "last", "the last duplicate wins");
    }

    // Everything else reads a JSON value the CLI parsed with serde_json.
    let Ok(value) = serde_json::from_slice::<Value>(&case.bytes) else {
        if name.starts_with("127") {
            return Err(format!(
                "{name}: the deepest parseable document did not parse"
            ));
        }
        return Ok(());
    };
    let canonical = guarded("to_canonical_string", || to_canonical_string(&value))?;
    if chain::first_non_finite(&value).is_none() {
        let back: Value = serde_json::from_str(&canonical)
            .map_err(|e| format!("{name}: canonical output does not parse: {e}"))?;
        let again = guarded("to_canonical_string", || to_canonical_string(&back))?;
        assert!(
            again == canonical,
            "{name}: canonical form is not a fixed point"
        );
    }
    guarded("chain::checksum", || chain::checksum(&value))?;
    let empty = Value::Object(serde_json::Map::new());
    for (old, new) in [(&empty, &value), (&value, &empty), (&value, &value)] {
        let d = guarded("chain::diff", || chain::diff::diff(old, new))?;
        let applied = guarded("chain::apply", || chain::diff::apply(old, &d))?
            .map_err(|e| format!("{name}: apply(diff) failed: {e:?}"))?;
        assert!(
            to_canonical_string(&applied) == to_canonical_string(new),
            "{name}: apply(diff(a, b), a) != b"
        );
    }
    let id = guarded("snapshot_id", || snapshot_id(&value))?;
    let made = guarded("create_from_report", || {
        FabricSnapshot::create_from_report(value.clone(), &ingested_at(0))
    })?;
    match (&id, &made) {
        (Ok(a), Ok(s)) => assert_eq!(a, &s.snapshot_id, "{name}"),
        (Err(_), Err(_)) => {}
        _ => {
            return Err(format!(
                "{name}: snapshot_id and create_from_report disagree"
            ));
        }
    }
    if let Ok(snapshot) = made {
        let doc = snapshot.to_json();
        let read = guarded("FabricSnapshot::from_json", || {
            FabricSnapshot::from_json(&doc)
        })?;
        if let Ok(read) = read {
            guarded("diff_snapshots", || diff_snapshots(&read, &read))?
                .map_err(|e| format!("{name}: diff of a snapshot with itself: {e}"))?;
        }
    }
    // The input as a snapshot document and as a diff's input.
    if let Ok(s) = guarded("FabricSnapshot::from_json", || {
        FabricSnapshot::from_json(&value)
    })? {
        guarded("diff_snapshots", || diff_snapshots(&s, &s))?.map_err(|e| e.to_string())?;
    }
    Ok(())
}

#[test]
fn every_parser_survives_every_hostile_input() -> TestResult {
    let mut failures = Vec::new();
    for case in cases() {
        if std::env::var_os("FABRIC_HOSTILE_TIMING").is_some() {
            eprintln!("{}", case.name);
        }
        let started = std::time::Instant::now();
        if let Err(e) = exercise(&case) {
            failures.push(e);
        }
        let took = started.elapsed();
        assert!(took.as_secs() < 60, "{}: took {took:?}", case.name);
    }
    assert!(failures.is_empty(), "{failures:#?}");
    Ok(())
}

/// Numbers: `-0` hashes as `0`, `-0.0` keeps its sign (Python repr), overflowing
/// floats are refused by the snapshot id (naming the path) and by the chain.
#[test]
fn hostile_numbers_hash_as_the_spec_says() -> TestResult {
    let v = |s: &str| serde_json::from_str::<Value>(s);
    assert_eq!(
        snapshot_id(&v(r#"{"a": -0}"#)?)?,
        snapshot_id(&v(r#"{"a": 0}"#)?)?
    );
    assert_ne!(
        snapshot_id(&v(r#"{"a": -0.0}"#)?)?,
        snapshot_id(&v(r#"{"a": 0.0}"#)?)?
    );
    let err = snapshot_id(&v(r#"{"x": {"y": [1, 1e999]}}"#)?);
    assert!(
        matches!(
            err,
            Err(Error::Export(fabric_core::ExportError::Snapshot(_)))
        ),
        "{err:?}"
    );
    assert_eq!(
        chain::first_non_finite(&v(r#"{"x": {"y": [1, -1e999]}}"#)?).as_deref(),
        Some("/x/y/1")
    );
    // Keys differing only by normalisation stay two keys, sorted by code point.
    let keys = v("{\"cafe\u{301}\": 2, \"caf\u{e9}\": 1}")?;
    assert_eq!(
        to_canonical_string(&keys),
        r#"{"cafe\u0301":2,"caf\u00e9":1}"#
    );
    Ok(())
}
