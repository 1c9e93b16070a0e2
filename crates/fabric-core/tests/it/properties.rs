//! Properties: key order never changes a snapshot id; a snapshot diffed with
//! itself is all zero; generated valid jobs always ingest; arbitrary bytes never
//! panic the parser; timestamps round-trip through their printed form.

use fabric_core::diff::diff_snapshots;
use fabric_core::ingest::{outputs_from_json, outputs_to_json, parse_job};
use fabric_core::model::FinalStatus;
use fabric_core::report::{DeterminismMode, JobFacts, ReportBuilder};
use fabric_core::snapshot::{FabricSnapshot, snapshot_id};
use fabric_core::timestamp::Timestamp;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::{Map, Number, Value};

use crate::common::{cases, ingested_at, json};

fn fail(e: impl std::fmt::Display) -> TestCaseError {
    TestCaseError::fail(e.to_string())
}

/// Rebuild `value` with every object's keys in an order drawn from `seed`.
fn shuffle(value: &Value, seed: &mut u64) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            // Fisher-Yates with a SplitMix64 stream.
            for i in (1..entries.len()).rev() {
                *seed = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
                let mut z = *seed;
                z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                let j = ((z ^ (z >> 31)) % (i as u64 + 1)) as usize;
                entries.swap(i, j);
            }
            let shuffled: Map<String, Value> = entries
                .into_iter()
                .map(|(k, v)| (k.clone(), shuffle(v, seed)))
                .collect();
            Value::Object(shuffled)
        }
        Value::Array(items) => Value::Array(items.iter().map(|v| shuffle(v, seed)).collect()),
        other => other.clone(),
    }
}

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (proptest::num::f64::NORMAL | proptest::num::f64::ZERO | proptest::num::f64::SUBNORMAL)
            .prop_filter_map("finite", fabric_core::json::py_float)
            .prop_map(Value::Number),
        "\\PC{0,12}".prop_map(Value::String),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map("\\PC{0,8}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn report_object() -> impl Strategy<Value = Value> {
    proptest::collection::btree_map("\\PC{0,8}", json_value(), 0..8)
        .prop_map(|m| Value::Object(m.into_iter().collect()))
}

type FactsRow = (
    String,
    u8,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    i64,
    i64,
);

fn facts_rows() -> impl Strategy<Value = Vec<FactsRow>> {
    let pick = |options: &'static [&'static str]| {
        proptest::option::of(proptest::sample::select(options).prop_map(str::to_owned))
    };
    proptest::collection::vec(
        (
            "[a-e]{1,2}",
            0u8..3,
            pick(&["p1", "p2", "", "prores_übersicht"]),
            pick(&["fp1", "fp2", ""]),
            pick(&["ffmpeg", "resolve", "ffmpeg_nvenc", ""]),
            pick(&["boom", "Boom", "", "a\nb\t\u{7f}"]),
            0i64..3,
            0i64..3,
        ),
        0..40,
    )
}

fn build(rows: &[FactsRow], mode: DeterminismMode) -> fabric_core::report::FabricReport {
    let mut builder = ReportBuilder::with_mode(mode);
    for (id, status, profile, fp, engine, reason, completed, failed) in rows {
        let final_status = [
            FinalStatus::Completed,
            FinalStatus::Failed,
            FinalStatus::Partial,
        ][usize::from(*status % 3)];
        builder.push(JobFacts {
            job_id: id,
            final_status,
            canonical_proxy_profile: profile.as_deref(),
            fingerprint: fp.as_deref(),
            engine_used: engine.as_deref(),
            validation_error: reason.as_deref(),
            completed_clips: *completed,
            failed_clips: *failed,
        });
    }
    builder.finish()
}

proptest! {
    #[test]
    fn key_order_never_changes_the_id(report in report_object(), seed in any::<u64>()) {
        let mut seed = seed;
        let shuffled = shuffle(&report, &mut seed);
        prop_assert_eq!(snapshot_id(&report).map_err(fail)?, snapshot_id(&shuffled).map_err(fail)?);
    }

    #[test]
    fn vector_reports_keep_their_id_when_shuffled(seed in any::<u64>()) {
        for case in cases().map_err(fail)? {
            let report = json(&case, "report.json").map_err(fail)?;
            let mut seed = seed;
            let shuffled = shuffle(&report, &mut seed);
            prop_assert_eq!(snapshot_id(&report).map_err(fail)?, snapshot_id(&shuffled).map_err(fail)?);
        }
    }

    #[test]
    fn a_snapshot_diffed_with_itself_is_all_zero(rows in facts_rows(), strict in any::<bool>()) {
        let mode = if strict { DeterminismMode::Strict } else { DeterminismMode::Reference };
        let report = build(&rows, mode);
        let at = ingested_at(0);
        let snapshot = FabricSnapshot::create(&report, &at);
        let back = FabricSnapshot::from_json(&snapshot.to_json()).map_err(fail)?;
        let diff = diff_snapshots(&snapshot, &back).map_err(fail)?;
        prop_assert!(!diff.has_changes());
        let doc = diff.to_json();
        let changes = &doc["changes"];
        for section in ["engine_health", "proxy_profile_stability"] {
            for entry in changes[section].as_object().into_iter().flat_map(|m| m.values()) {
                for (key, delta) in entry.as_object().into_iter().flatten() {
                    let expected = if key == "failure_rate_delta" { "0.0" } else { "0" };
                    prop_assert_eq!(delta.as_number().map(Number::as_str), Some(expected));
                }
            }
        }
        for delta in changes["execution_summary"].as_object().into_iter().flat_map(|m| m.values()) {
            prop_assert_eq!(delta.as_number().map(Number::as_str), Some("0"));
        }
        prop_assert_eq!(&changes["determinism"]["new_non_deterministic_jobs"], &Value::Array(vec![]));
    }

    #[test]
    fn typed_id_equals_the_id_of_the_exported_document(rows in facts_rows(), strict in any::<bool>()) {
        let mode = if strict { DeterminismMode::Strict } else { DeterminismMode::Reference };
        let report = build(&rows, mode);
        let doc = report.export_json(&ingested_at(0));
        prop_assert_eq!(report.snapshot_id(), snapshot_id(&doc).map_err(fail)?);
    }

    #[test]
    fn strict_flags_a_superset_of_reference(rows in facts_rows()) {
        let reference = build(&rows, DeterminismMode::Reference).non_deterministic_jobs;
        let strict = build(&rows, DeterminismMode::Strict).non_deterministic_jobs;
        prop_assert!(reference.iter().all(|id| strict.contains(id)));
    }

    #[test]
    fn generated_valid_jobs_always_ingest(
        job_id in "\\PC{1,16}",
        status in proptest::sample::select(&["COMPLETED", "FAILED", "PARTIAL"][..]),
        clips in proptest::collection::vec(("\\PC{1,20}", "\\PC{1,20}", any::<bool>(), proptest::option::of(any::<i64>()), proptest::option::of("\\PC{0,10}")), 0..5),
        meta in proptest::collection::btree_map(
            proptest::sample::select(&["proxy_profile_used", "engine_used", "validation_stage", "validation_error", "resolve_preset_used", "jobspec_version", "fingerprint", "other"][..]),
            proptest::option::of("\\PC{0,10}"),
            0..8,
        ),
        (year, month, day, hour, minute, second, micro) in (1i32..=9999, 1u8..=12, 1u8..=28, 0u8..24, 0u8..60, 0u8..60, 0u32..1_000_000),
        offset in proptest::sample::select(&["", "Z", "+05:30", "-0800", "+01"][..]),
        counters in proptest::option::of((any::<i64>(), any::<i64>(), any::<i64>())),
        cwd in proptest::sample::select(&["/", "/work", "/a/b/"][..]),
    ) {
        let started = format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{micro:06}{offset}");
        let clips: Vec<Value> = clips.iter().map(|(src, out, ok, size, engine)| {
            serde_json::json!({
                "source_path": src, "resolved_output_path": out,
                "status": if *ok { "COMPLETED" } else { "FAILED" },
                "output_size_bytes": size, "engine_used": engine, "exit_code": 3
            })
        }).collect();
        let mut doc = serde_json::json!({
            "job_id": job_id, "final_status": status, "started_at": started,
            "completed_at": started, "clips": clips, "_metadata": meta,
        });
        if let (Some((t, c, f)), Some(map)) = (counters, doc.as_object_mut()) {
            map.insert("total_clips".into(), t.into());
            map.insert("completed_clips".into(), c.into());
            map.insert("failed_clips".into(), f.into());
        }
        let bytes = serde_json::to_vec(&doc).map_err(fail)?;
        let job = parse_job("gen.json", &bytes, ingested_at(1), cwd).map_err(fail)?;
        prop_assert_eq!(&job.job_id, &job_id);
        prop_assert_eq!(job.outputs.len(), clips.len());
        prop_assert_eq!(job.duration_seconds(), Some(0.0));
        prop_assert_eq!(job.started_at.to_string().len() >= 19, true);
        let stored = outputs_to_json(&job.outputs);
        prop_assert_eq!(outputs_from_json(&job.job_id, &stored).map_err(fail)?, job.outputs.clone());
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = parse_job("noise.json", &bytes, ingested_at(0), "/");
    }

    #[test]
    fn arbitrary_json_never_panics(value in json_value()) {
        let bytes = serde_json::to_vec(&value).map_err(fail)?;
        let _ = parse_job("noise.json", &bytes, ingested_at(0), "/");
        let _ = FabricSnapshot::from_json(&value);
    }

    #[test]
    fn timestamps_round_trip(
        (year, month, day, hour, minute, second, micro) in (1i32..=9999, 1u8..=12, 1u8..=28, 0u8..24, 0u8..60, 0u8..60, 0u32..1_000_000),
        offset_minutes in proptest::option::of(-1439i32..=1439),
    ) {
        let offset = match offset_minutes {
            None => String::new(),
            Some(m) => format!("{}{:02}:{:02}", if m < 0 { '-' } else { '+' }, m.abs() / 60, m.abs() % 60),
        };
        let text = format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{micro:06}{offset}");
        let t = Timestamp::parse(&text).map_err(fail)?;
        let printed = t.to_string();
        prop_assert_eq!(Timestamp::parse(&printed).map_err(fail)?, t);
        if micro != 0 && offset_minutes != Some(0) {
            prop_assert_eq!(printed, text);
        }
    }
}

#[test]
fn float_numbers_keep_their_spelling_in_ids() -> Result<(), Box<dyn std::error::Error>> {
    // 0 and 0.0 hash differently; 0.10 and 0.1 hash the same.
    let int: Value = serde_json::from_str(r#"{"r": 0}"#)?;
    let float: Value = serde_json::from_str(r#"{"r": 0.0}"#)?;
    let a: Value = serde_json::from_str(r#"{"r": 0.10}"#)?;
    let b: Value = serde_json::from_str(r#"{"r": 0.1}"#)?;
    assert_ne!(snapshot_id(&int)?, snapshot_id(&float)?);
    assert_eq!(snapshot_id(&a)?, snapshot_id(&b)?);
    let n: Number = "1e-5".parse()?;
    assert_eq!(
        snapshot_id(&serde_json::json!({"r": n}))?,
        snapshot_id(&serde_json::from_str(r#"{"r": 0.00001}"#)?)?
    );
    Ok(())
}
