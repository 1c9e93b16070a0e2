//! Snapshot chain timings: create p95 for a 100 KB payload, read
//! p95 uncached and cached, a history page of 20 on a short and a very long chain,
//! and the compression saving on report payloads.
//!
//! `cargo bench -p fabric-store --bench chains [-- --quick]` (or `cargo xtask bench
//! chains`). `--quick` uses fewer iterations and a 10,000-version long chain instead
//! of 100,000, so it finishes in seconds.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use time::OffsetDateTime;

use fabric_core::chain::{SnapshotMetadata, Source};
use fabric_store::Store;
use fabric_store::chain::{ChainCache, HistoryPage, NewVersion};

type BenchResult = Result<(), Box<dyn std::error::Error>>;

fn main() -> BenchResult {
    let quick = std::env::args().any(|a| a == "--quick");
    let (iterations, long_chain) = if quick { (40, 10_000) } else { (300, 100_000) };
    // FABRIC_BENCH_DIR puts the databases elsewhere (e.g. /dev/shm, to see what the
    // disk's fsync costs).
    let dir = match std::env::var_os("FABRIC_BENCH_DIR") {
        Some(base) => tempfile::tempdir_in(base)?,
        None => tempfile::tempdir()?,
    };
    let now = OffsetDateTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000);
    let meta = SnapshotMetadata::new(Source::Api, now, 1.0);
    println!(
        "snapshot chains bench ({} mode)",
        if quick { "quick" } else { "full" }
    );

    // --- create: 100 KB report-like payloads, each a little different ---------------
    let mut store = Store::open(dir.path().join("create.db"))?;
    let docs: Vec<Value> = (0..iterations).map(|i| big_report(i, 100_000)).collect();
    let size = fabric_core::json::to_canonical_string(&docs[0]).len();
    let mut create = Vec::with_capacity(iterations);
    for doc in &docs {
        let started = Instant::now();
        store.chain_create(&NewVersion::new("big", doc, &meta, "bench", now))?;
        create.push(started.elapsed());
    }
    report(
        "create (100 KB payload, diff vs parent, gzip, commit)",
        &mut create,
        Some(5.0),
    );
    println!("  payload: {size} bytes canonical");
    cpu_breakdown(&docs);

    // --- read: uncached (decompress + SHA-256 + parse) and cached ---------------------
    let mut uncached = Vec::with_capacity(iterations);
    for i in 0..iterations {
        let version = (i as i64 * 7919) % iterations as i64 + 1;
        let started = Instant::now();
        let read = store.chain_get("big", Some(version))?;
        uncached.push(started.elapsed());
        std::hint::black_box(read);
    }
    report("read uncached (verify checksum)", &mut uncached, Some(5.0));
    let mut cache = ChainCache::default();
    store.chain_get_cached(&mut cache, "big", None)?;
    let mut cached = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let started = Instant::now();
        let read = store.chain_get_cached(&mut cache, "big", None)?;
        cached.push(started.elapsed());
        std::hint::black_box(read);
    }
    report("read cached (active version)", &mut cached, Some(0.2));
    let stats = cache.stats();
    println!("  cache: {} hits, {} misses", stats.hits, stats.misses);
    let ratio = median(&uncached).as_secs_f64() / median(&cached).as_secs_f64().max(1e-9);
    println!("  uncached / cached median: {ratio:.0}x");

    // --- history: a page of 20 on a chain of 10 and on a long chain -------------------
    let mut store = Store::open(dir.path().join("history.db"))?;
    fill(&mut store, "short", 10, &meta, now)?;
    let started = Instant::now();
    fill(&mut store, "long", long_chain, &meta, now)?;
    println!(
        "  (built a {long_chain}-version chain in {:.1} s)",
        started.elapsed().as_secs_f64()
    );
    let short = pages(&store, "short", 10, iterations)?;
    let long = pages(&store, "long", long_chain, iterations)?;
    let (mut short, mut long) = (short, long);
    report("history page of 20, chain of 10", &mut short, Some(10.0));
    report(
        &format!("history page of 20, chain of {long_chain}"),
        &mut long,
        Some(10.0),
    );
    println!(
        "  long / short median: {:.2}x (a page must not grow with chain length)",
        median(&long).as_secs_f64() / median(&short).as_secs_f64().max(1e-9)
    );

    // --- compression on report payloads ------------------------------------------------
    let mut store = Store::open(dir.path().join("reports.db"))?;
    let (mut data, mut stored) = (0u64, 0u64);
    println!("compression (gzip of the canonical JSON) on the vector reports:");
    for (name, doc) in vector_reports()? {
        let v = store.chain_create(&NewVersion::new(&name, &doc, &meta, "bench", now))?;
        println!(
            "  {name:<22} {:>6} -> {:>5} bytes  saving {:>5.1}%",
            v.data_size,
            v.stored_size,
            v.saving() * 100.0
        );
        data += v.data_size;
        stored += v.stored_size;
    }
    println!(
        "  all vector reports     {data:>6} -> {stored:>5} bytes  saving {:>5.1}%",
        fabric_core::chain::saving(data, stored) * 100.0
    );
    for target in [10_000, 100_000] {
        let doc = big_report(0, target);
        let v = store.chain_create(&NewVersion::new(
            &format!("synthetic-{target}"),
            &doc,
            &meta,
            "bench",
            now,
        ))?;
        println!(
            "  synthetic report ~{:>3} KB {:>6} -> {:>5} bytes  saving {:>5.1}%",
            target / 1000,
            v.data_size,
            v.stored_size,
            v.saving() * 100.0
        );
    }
    Ok(())
}

/// A report shaped like `export_json` with enough profiles, reasons and jobs to
/// reach about `target` canonical bytes; `seed` varies some counts.
fn big_report(seed: usize, target: usize) -> Value {
    let n = (target / 83).max(1);
    let profiles: serde_json::Map<String, Value> = (0..n)
        .map(|i| {
            let jobs = 10 + (i * 7 + seed) % 50;
            let rate = ((i + seed) % 9) as f64 / jobs as f64;
            (
                format!("proxy_profile_{i:05}"),
                json!({"jobs": jobs, "failure_rate": fabric_core::json::py_float(rate)}),
            )
        })
        .collect();
    let reasons: serde_json::Map<String, Value> = (0..n / 4)
        .map(|i| {
            (
                format!("decoder error {i}: stream {} ended early", i % 13),
                json!(1 + (i + seed) % 5),
            )
        })
        .collect();
    let jobs: Vec<Value> = (0..n / 2)
        .map(|i| json!(format!("job-{:06}", i * 3 + seed % 3)))
        .collect();
    json!({
        "generated_at": "2026-11-22T03:00:00+00:00",
        "execution_summary": {"total_jobs": 1000 + seed, "completed": 900, "failed": 100 + seed, "validation_failed": 3},
        "failure_summary": {"by_engine": {"ffmpeg": reasons, "resolve": {}}, "top_failure_reasons": ["decoder error 1: stream 1 ended early"]},
        "engine_health": {"ffmpeg": {"jobs": 1000, "failures": 100, "failure_rate": 0.1}, "resolve": {"jobs": 0, "failures": 0, "failure_rate": 0.0}},
        "proxy_profile_stability": profiles,
        "determinism": {"non_deterministic_jobs": jobs, "count": n / 2},
    })
}

/// What a create costs before SQLite: canonical JSON + SHA-256, gzip, decoding the
/// parent (gunzip + parse) and the diff. The rest of a create is the transaction.
fn cpu_breakdown(docs: &[Value]) {
    use std::io::{Read, Write};
    let (mut encode, mut decode, mut diff) = (Vec::new(), Vec::new(), Vec::new());
    for pair in docs.windows(2) {
        let (parent, doc) = (&pair[0], &pair[1]);
        let started = Instant::now();
        let canonical = fabric_core::json::to_canonical_string(doc);
        let sum = fabric_core::json::sha256_hex(canonical.as_bytes());
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        let bytes = gz
            .write_all(canonical.as_bytes())
            .and_then(|()| gz.finish())
            .unwrap_or_default();
        encode.push(started.elapsed());
        let started = Instant::now();
        let mut text = Vec::new();
        let _ = flate2::read::GzDecoder::new(bytes.as_slice()).read_to_end(&mut text);
        let back: Value = serde_json::from_slice(&text).unwrap_or(Value::Null);
        decode.push(started.elapsed());
        let started = Instant::now();
        let d = fabric_core::chain::diff::diff(parent, doc);
        diff.push(started.elapsed());
        std::hint::black_box((sum, back, d));
    }
    let ms = |v: &[Duration]| median(v).as_secs_f64() * 1000.0;
    println!(
        "  of which, medians: canonical+sha256+gzip {:.3} ms, gunzip+sha+parse {:.3} ms, diff {:.3} ms",
        ms(&encode),
        ms(&decode),
        ms(&diff)
    );
}

/// Create `count` small versions of `key` in batches of one transaction each.
fn fill(
    store: &mut Store,
    key: &str,
    count: usize,
    meta: &SnapshotMetadata,
    now: OffsetDateTime,
) -> BenchResult {
    let docs: Vec<Value> = (0..count).map(|i| json!({"i": i, "rate": 0.5})).collect();
    for chunk in docs.chunks(5_000) {
        let batch: Vec<_> = chunk
            .iter()
            .map(|d| NewVersion::new(key, d, meta, "bench", now))
            .collect();
        store.chain_create_many(&batch)?;
    }
    Ok(())
}

/// Time `iterations` history pages of 20 at positions spread over the chain.
fn pages(
    store: &Store,
    key: &str,
    len: usize,
    iterations: usize,
) -> Result<Vec<Duration>, fabric_store::Error> {
    let mut out = Vec::with_capacity(iterations);
    for i in 0..iterations {
        let before = match i % 3 {
            0 => None,
            1 => Some(len as i64 / 2 + 1),
            _ => Some(21.min(len as i64 + 1)),
        };
        let started = Instant::now();
        let page = store.chain_history(key, HistoryPage { before, limit: 20 })?;
        out.push(started.elapsed());
        std::hint::black_box(page);
    }
    Ok(out)
}

fn vector_reports() -> Result<Vec<(String, Value)>, Box<dyn std::error::Error>> {
    let cases = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors/fabric/cases");
    let mut out = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(&cases)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path().join("report.json");
        if path.is_file() {
            let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
            out.push((entry.file_name().to_string_lossy().into_owned(), doc));
        }
    }
    Ok(out)
}

fn median(samples: &[Duration]) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    sorted.get(sorted.len() / 2).copied().unwrap_or_default()
}

fn report(what: &str, samples: &mut [Duration], target_ms: Option<f64>) {
    samples.sort();
    let pick = |q: f64| {
        samples
            .get(((samples.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or_default()
    };
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let (p50, p95, max) = (ms(pick(0.5)), ms(pick(0.95)), ms(pick(1.0)));
    let verdict = target_ms.map_or_else(String::new, |t| {
        format!(
            "  target p95 < {t} ms: {}",
            if p95 < t { "met" } else { "MISSED" }
        )
    });
    println!(
        "{what}: median {p50:.3} ms, p95 {p95:.3} ms, max {max:.3} ms (n={}){verdict}",
        samples.len()
    );
}
