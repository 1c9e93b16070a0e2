//! Timed harness (not criterion): snapshot_id throughput next to raw SHA-256 of
//! the same canonical bytes, and the streaming report build over N jobs.
//!
//! `cargo bench -p fabric-core --bench snapshot [-- --quick]`; prints medians (and
//! minimums) of several runs and the ratios, all measured in this one run. On a
//! shared, busy machine the minimum is the run least disturbed by preemption.
//! `-- --loop=typed|value|raw` (add `f` for the float-heavy report) only repeats
//! one way of hashing 300 times, for a profiler (`perf record`).

use std::hint::black_box;
use std::time::{Duration, Instant};

use fabric_core::json::{sha256_hex, to_canonical_string};
use fabric_core::model::FinalStatus;
use fabric_core::report::{FabricReport, JobFacts, ReportBuilder};
use fabric_core::snapshot::{canonical_report_bytes, snapshot_id};
use fabric_core::timestamp::Timestamp;

/// Owned facts of one synthetic job.
struct Row {
    job_id: String,
    status: FinalStatus,
    profile: Option<String>,
    fingerprint: Option<String>,
    engine: Option<&'static str>,
    reason: Option<String>,
    completed: i64,
    failed: i64,
}

/// Deterministic synthetic jobs: `profiles` distinct profiles, fingerprint groups
/// of about four jobs, a few thousand reasons (some non-ASCII).
fn rows(n: usize, profiles: usize, reasons: usize) -> Vec<Row> {
    let mut state: u64 = 0x5EED;
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    (0..n)
        .map(|i| {
            let r = next();
            let status = match r % 100 {
                0..58 => FinalStatus::Completed,
                58..83 => FinalStatus::Failed,
                _ => FinalStatus::Partial,
            };
            let reason = status.is_failure().then(|| {
                let k = (r >> 8) as usize % reasons;
                if k.is_multiple_of(7) {
                    format!("Décodage échoué {k}: flux corrompu 🎬")
                } else {
                    format!("ffmpeg exited with code {k}")
                }
            });
            Row {
                job_id: format!("job-{i:08}"),
                status,
                profile: Some(format!(
                    "proxy_profile_{:05}",
                    (r >> 20) as usize % profiles
                )),
                fingerprint: (r % 5 != 0).then(|| format!("fp-{:012x}", i / 4)),
                engine: match (r >> 40) % 10 {
                    0..6 => Some("ffmpeg"),
                    6..9 => Some("resolve"),
                    _ => None,
                },
                reason,
                completed: ((r >> 44) % 3) as i64,
                failed: i64::from(status == FinalStatus::Failed),
            }
        })
        .collect()
}

fn build(rows: &[Row]) -> FabricReport {
    let mut builder = ReportBuilder::new();
    for row in rows {
        builder.push(JobFacts {
            job_id: &row.job_id,
            final_status: row.status,
            canonical_proxy_profile: row.profile.as_deref(),
            fingerprint: row.fingerprint.as_deref(),
            engine_used: row.engine,
            validation_error: row.reason.as_deref(),
            completed_clips: row.completed,
            failed_clips: row.failed,
        });
    }
    builder.finish()
}

/// Median and minimum of several timed runs (the minimum is the run least
/// disturbed by other processes on a shared machine).
#[derive(Clone, Copy)]
struct Timing {
    median: Duration,
    min: Duration,
}

fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> Timing {
    let mut samples: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            black_box(f());
            start.elapsed()
        })
        .collect();
    samples.sort();
    Timing {
        median: samples.get(samples.len() / 2).copied().unwrap_or_default(),
        min: samples.first().copied().unwrap_or_default(),
    }
}

fn mb_per_s(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / 1e6 / d.as_secs_f64()
}

/// Time every way of hashing `report` and print MB/s next to raw SHA-256.
fn hash_suite(
    label: &str,
    report: &FabricReport,
    at: &Timestamp,
    runs: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let doc = report.export_json(at);
    let canonical = canonical_report_bytes(&doc)?;
    let typed_time = time(runs, || report.snapshot_id());
    let value_time = time(runs, || snapshot_id(&doc));
    let raw_time = time(runs, || sha256_hex(&canonical));
    let naive_time = time(runs, || sha256_hex(to_canonical_string(&doc).as_bytes()));
    let mb = canonical.len();
    println!(
        "snapshot_id, {label}: {:.2} MB canonical, {runs} runs (median | min)",
        mb as f64 / 1e6
    );
    for (name, t) in [
        ("raw SHA-256 of the canonical bytes", raw_time),
        ("FabricReport::snapshot_id (typed)", typed_time),
        ("snapshot_id(&Value) (streamed)", value_time),
        ("to_canonical_string + SHA-256", naive_time),
    ] {
        let (rate, best) = (mb_per_s(mb, t.median), mb_per_s(mb, t.min));
        println!(
            "  {name:<36} {:>8.3} ms {:>7.1} MB/s {:>4.0}% of raw | {:>7.3} ms {:>7.1} MB/s {:>4.0}% of raw",
            t.median.as_secs_f64() * 1e3,
            rate,
            100.0 * rate / mb_per_s(mb, raw_time.median),
            t.min.as_secs_f64() * 1e3,
            best,
            100.0 * best / mb_per_s(mb, raw_time.min),
        );
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let quick = std::env::args().any(|a| a == "--quick");
    let at = Timestamp::parse("2025-01-01T00:00:00Z")?;
    let runs = if quick { 15 } else { 41 };
    if let Some(mode) = std::env::args().find_map(|a| a.strip_prefix("--loop=").map(str::to_owned))
    {
        let report = if mode.ends_with('f') {
            build(&rows(60_000, 9_000, 3_000))
        } else {
            build(&rows(60_000, 60, 12_000))
        };
        let doc = report.export_json(&at);
        for _ in 0..300 {
            match mode.as_str() {
                "typed" | "typedf" => drop(black_box(report.snapshot_id())),
                "value" | "valuef" => drop(black_box(snapshot_id(&doc)?)),
                _ => drop(black_box(sha256_hex(&report.canonical_bytes()))),
            }
        }
        return Ok(());
    }

    // 1. snapshot_id of ~1 MB reports (target: >= 50% of raw SHA-256).
    // Realistic: 60 profiles, thousands of distinct reasons, many flagged jobs.
    let realistic = build(&rows(60_000, 60, 12_000));
    hash_suite(
        "realistic report (60 profiles, 12k reasons)",
        &realistic,
        &at,
        runs,
    )?;
    // Float-heavy: 9,000 profiles, each with a rate.
    let floats = build(&rows(60_000, 9_000, 3_000));
    hash_suite("float-heavy report (9k profiles)", &floats, &at, runs)?;

    // 2. Streaming report build over N jobs.
    let n = if quick { 20_000 } else { 1_000_000 };
    let jobs = rows(n, 40, 200);
    let runs = if quick { 5 } else { 3 };
    let build_time = time(runs, || build(&jobs));
    let flagged = build(&jobs).non_deterministic_jobs.len();
    println!("report build: {n} jobs, median of {runs} runs, {flagged} non-deterministic");
    println!(
        "  ReportBuilder push+finish {:>9.3} s median {:>12.0} jobs/s | {:.3} s min",
        build_time.median.as_secs_f64(),
        n as f64 / build_time.median.as_secs_f64(),
        build_time.min.as_secs_f64()
    );
    let export_time = time(runs, || build(&jobs).export_json(&at));
    println!(
        "  build + export_json       {:>9.3} s median | {:.3} s min",
        export_time.median.as_secs_f64(),
        export_time.min.as_secs_f64()
    );
    Ok(())
}
