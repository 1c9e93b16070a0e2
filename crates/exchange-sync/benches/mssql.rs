//! `cargo xtask bench mssql`: the SQL Server mirror against a real server named by
//! `FABRIC_TEST_MSSQL` (a connection string); without it, prints that SQL Server was
//! skipped and exits 0 (no server can run on CI machines).
//!
//! Per run, on a fresh `[fabric_test]` table (dropped afterwards): bulk insert of N
//! rows (batches of 5,000, one transaction), natural-key lookups of all N keys
//! (1,000 per request), update of N/10 rows by `exchange_id` (200 per request),
//! hashes in scope and a full export. `--quick`: N = 2,000, three runs, medians;
//! otherwise `--n N` (default 100,000) once. Compare bulk insert with the
//! 100k-180k rows/s tiberius users report with 16 KiB packets; set `packetSize=` in
//! the connection string to try other packet sizes.

use std::time::{Duration, Instant};

use exchange_sync::mssql::tsql::TableName;
use exchange_sync::mssql::{SqlServerConfig, SqlServerMirror};
use exchange_sync::{Mirror, MirrorRead, MirrorRecord, MirrorWrite, Scope};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

const BATCH: usize = 5_000;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn record(i: usize, version: u32) -> Res<MirrorRecord> {
    Ok(MirrorRecord {
        exchange_id: format!("00000000-0000-4000-{version:04x}-{i:012x}"),
        exchange_type: "mediawiki".into(),
        source_system: "bench".into(),
        entity_type: "page".into(),
        natural_key: Some(format!("Page_{i}")),
        observed_at_utc: time::macros::datetime!(2024-01-15 09:21:00 UTC)
            + time::Duration::milliseconds(i64::try_from(i)?),
        content_sha256: format!("{:056x}{version:08x}", i + 1).parse()?,
        payload_json: format!(
            "{{\"exchange_id\": \"{i}\", \"response\": {{\"title\": \"Page {i}\", \"text\": \"{}\"}}}}",
            "lorem ipsum ".repeat(8)
        ),
        schema_version: 1,
    })
}

#[derive(Debug, Default)]
struct Round {
    insert: Duration,
    lookup: Duration,
    update: Duration,
    hashes: Duration,
    export: Duration,
}

fn round(config: &SqlServerConfig, n: usize, run: usize) -> Res<Round> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_nanos();
    let table = TableName::new(
        "fabric_test",
        &format!("bench_{}_{nanos}_{run}", std::process::id()),
    )?;
    let mut m = SqlServerMirror::connect(config, table.clone())?;
    m.apply_schema()?;
    let result = measure(&mut m, n);
    let _ = m.execute_batch(&format!("DROP TABLE IF EXISTS {}", table.quoted()));
    result
}

fn measure(m: &mut SqlServerMirror, n: usize) -> Res<Round> {
    let scope = Scope {
        source_system: "bench".into(),
        entity_type: "page".into(),
    };
    let mut r = Round::default();

    let records: Vec<MirrorRecord> = (0..n).map(|i| record(i, 1)).collect::<Res<_>>()?;
    let t = Instant::now();
    let mut tx = m.begin(&scope)?;
    for chunk in records.chunks(BATCH) {
        let writes: Vec<MirrorWrite> = chunk.iter().cloned().map(MirrorWrite::Insert).collect();
        tx.write_batch(&writes)?;
    }
    tx.commit()?;
    r.insert = t.elapsed();

    let keys: Vec<String> = (0..n).map(|i| format!("Page_{i}")).collect();
    let key_refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    let t = Instant::now();
    let found = m.find_by_natural_keys(&scope, &key_refs)?;
    r.lookup = t.elapsed();
    if found.iter().any(Option::is_none) {
        return Err("a key was not found".into());
    }

    let updates: Vec<MirrorWrite> = (0..n / 10)
        .map(|i| {
            Ok(MirrorWrite::Update {
                exchange_id: record(i, 1)?.exchange_id,
                record: record(i, 2)?,
            })
        })
        .collect::<Res<_>>()?;
    let t = Instant::now();
    let mut tx = m.begin(&scope)?;
    for chunk in updates.chunks(BATCH) {
        tx.write_batch(chunk)?;
    }
    tx.commit()?;
    r.update = t.elapsed();

    let t = Instant::now();
    let hashes = m.hashes_in_scope(&scope)?;
    r.hashes = t.elapsed();
    if hashes.len() != n {
        return Err(format!("{} hashes for {n} rows", hashes.len()).into());
    }

    let t = Instant::now();
    let mut bytes = 0usize;
    let exported = m.export_scope(&scope, &mut |rec| {
        bytes += rec.payload_json.len();
        Ok(())
    })?;
    r.export = t.elapsed();
    if exported != n as u64 {
        return Err(format!("exported {exported} of {n}").into());
    }
    Ok(r)
}

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let n: usize = args
        .iter()
        .position(|a| a == "--n")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(if quick { 2_000 } else { 100_000 });
    let reps = if quick { 3 } else { 1 };
    let Ok(target) = std::env::var("FABRIC_TEST_MSSQL") else {
        println!(
            "mssql bench: SQL Server SKIPPED (set FABRIC_TEST_MSSQL to a connection string to run it)"
        );
        return Ok(());
    };
    let config = SqlServerConfig::from_target(&target)?;
    println!(
        "mssql bench: SQL Server {}, {n} rows, packet size {} bytes, {reps} run(s), medians",
        config.describe(),
        config.packet_size
    );
    let rounds: Vec<Round> = (0..reps)
        .map(|i| round(&config, n, i))
        .collect::<Res<_>>()?;
    let med = |f: fn(&Round) -> Duration| median(rounds.iter().map(f).collect());
    let rate = |rows: usize, d: Duration| rows as f64 / d.as_secs_f64().max(1e-9);
    let (insert, lookup, update, hashes, export) = (
        med(|r| r.insert),
        med(|r| r.lookup),
        med(|r| r.update),
        med(|r| r.hashes),
        med(|r| r.export),
    );
    println!(
        "bulk insert:  {:>8.2}s {:>10.0} rows/s (tiberius users report 100k-180k/s at 16 KiB)",
        insert.as_secs_f64(),
        rate(n, insert)
    );
    println!(
        "key lookups:  {:>8.2}s {:>10.0} keys/s",
        lookup.as_secs_f64(),
        rate(n, lookup)
    );
    println!(
        "updates:      {:>8.2}s {:>10.0} rows/s = {:.1}x slower per row than bulk insert",
        update.as_secs_f64(),
        rate(n / 10, update),
        rate(n, insert) / rate(n / 10, update).max(1e-9)
    );
    println!(
        "hashes:       {:>8.2}s {:>10.0} rows/s",
        hashes.as_secs_f64(),
        rate(n, hashes)
    );
    println!(
        "export:       {:>8.2}s {:>10.0} rows/s",
        export.as_secs_f64(),
        rate(n, export)
    );
    Ok(())
}
