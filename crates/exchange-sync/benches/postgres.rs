//! `cargo xtask bench postgres`: import, no-op re-sync and export against a live
//! PostgreSQL named by `FABRIC_TEST_POSTGRES` (start one with
//! `eval "$(scripts/pg-test-cluster.sh start /tmp/fabric-pg)"`); without it, prints
//! that PostgreSQL was skipped and exits 0.
//!
//! Beside them, in the same run, the peer a user would reach for: `psql -c "\copy
//! ..."` of the same rows (exported once, untimed, to a CSV file) into the same
//! table, emptied, with the same indexes. The goal: import at >= 70% of the raw
//! `\copy` rate, although the import also reads the pack, re-hashes and checks every
//! record and keeps the hash and natural-key view.
//!
//! Records are generated here (deterministic, ~0.7 KB each) and written into a pack
//! with `exchange add` (not timed). `--n N` (default 1,000,000); `--quick`: 20,000.
//! Every phase prints wall and CPU seconds of this process and its own peak RSS
//! (VmHWM reset before the phase); the server's CPU is not in those seconds.

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use exchange_sync::manifest::{ConflictStrategy, Direction, Manifest, ManifestFile, SqlTarget};
use exchange_sync::postgres::{PgConfig, PostgresMirror, TableName};
use exchange_sync::sync::{SyncOptions, sync};
use exchange_sync::{Mirror, MirrorRead};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

/// Wall time, CPU seconds (all threads of this process) and peak RSS of a phase.
#[derive(Debug, Clone, Copy, Default)]
struct Phase {
    wall: Duration,
    cpu: f64,
    rss_mb: f64,
}

fn proc_status_kb(key: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0.0)
}

fn cpu_secs() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let f: Vec<String> = s
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .map(str::to_owned)
                .collect();
            Some((f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?) / 100.0)
        })
        .unwrap_or(0.0)
}

fn measure<T>(f: impl FnOnce() -> Res<T>) -> Res<(T, Phase)> {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let (t, c) = (Instant::now(), cpu_secs());
    let out = f()?;
    Ok((
        out,
        Phase {
            wall: t.elapsed(),
            cpu: cpu_secs() - c,
            rss_mb: proc_status_kb("VmHWM:") / 1024.0,
        },
    ))
}

fn options(direction: Direction) -> SyncOptions {
    SyncOptions {
        direction,
        conflict: ConflictStrategy::PreferNewest,
        dry_run: false,
        lenient: false,
        chunk_size: 1000,
        batch_commit: None,
    }
}

/// Write `n` generated records into a new pack under `dir`; its manifest path.
fn make_pack(dir: &Path, n: usize, schema: &str) -> Res<std::path::PathBuf> {
    let mut manifest = Manifest::new("bench", "mediawiki", "wookieepedia", "page");
    manifest.sql_target.schema = schema.to_owned();
    let mpath = exchange_sync::pack::init_dataset(dir, &mut manifest, now())?;
    let input = dir.join("input.ndjson");
    let mut w = std::io::BufWriter::new(std::fs::File::create(&input)?);
    for i in 0..n {
        writeln!(
            w,
            "{{\"exchange_id\": \"00000000-0000-4000-8000-{i:012x}\", \"natural_key\": \"Page_{i}\", \
             \"request\": {{\"method\": \"GET\", \"url\": \"https://wiki.example/api.php?page=Page_{i}\"}}, \
             \"response\": {{\"status\": 200, \"title\": \"Page {i}\", \"rev\": {}, \"text\": \"{}\"}}, \
             \"observed_at_utc\": \"2024-01-{:02}T09:{:02}:{:02}.{:07}Z\", \
             \"provenance\": {{\"runner_name\": \"bench\", \"host\": \"h\", \"git_sha\": \"abc\", \"connector_version\": \"1\"}}}}",
            i * 7 + 1,
            "Lorem ipsum dolor sit amet, consectetur adipiscing elit. ".repeat(8),
            1 + i % 28,
            (i / 60) % 60,
            i % 60,
            i % 10_000_000
        )?;
    }
    w.flush()?;
    drop(w);
    let mut reader = std::io::BufReader::new(std::fs::File::open(&input)?);
    let opts = exchange_sync::add::AddOptions {
        dry_run: false,
        raw: false,
        chunk_size: 1000,
        provenance: Default::default(),
        input_bytes: None,
    };
    let added = exchange_sync::add::add(&mpath, &mut reader, &input, &opts, now())?;
    assert_eq!(added.added as usize, n);
    std::fs::remove_file(&input)?;
    Ok(mpath)
}

/// One timed `sync` of `manifest` in `direction` on a fresh connection.
fn timed_sync(
    config: &PgConfig,
    table: &TableName,
    manifest: &Path,
    direction: Direction,
) -> Res<(exchange_sync::sync::SyncReport, Phase)> {
    measure(|| {
        let mut m = PostgresMirror::connect(config, table.clone())?;
        Ok(sync(
            &Manifest::load(manifest)?,
            manifest,
            &mut m,
            &options(direction),
            &now,
            &mut |_, _, _| {},
        )?)
    })
}

fn psql(url: &str, command: &str) -> Res<Duration> {
    let t = Instant::now();
    let out = Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", url, "-c", command])
        .output()?;
    if !out.status.success() {
        return Err(format!("psql {command}: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    Ok(t.elapsed())
}

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let n: usize = args
        .iter()
        .position(|a| a == "--n")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(if quick { 20_000 } else { 1_000_000 });
    let Some(url) = std::env::var("FABRIC_TEST_POSTGRES")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        println!(
            "postgres bench: SKIPPED (set FABRIC_TEST_POSTGRES, e.g. eval \"$(scripts/pg-test-cluster.sh start /tmp/fabric-pg)\")"
        );
        return Ok(());
    };
    let tmp = tempfile::tempdir()?;
    let schema = format!("bench_{}", std::process::id());
    let config = PgConfig::from_target(&url, |k| std::env::var(k).ok())?;
    let table = TableName::from_sql_target(&SqlTarget {
        schema: schema.clone(),
        ..SqlTarget::default()
    })?;
    let quoted = table.quoted();
    let mut admin = PostgresMirror::connect(&config, table.clone())?;
    let result = (|| -> Res<()> {
        let mpath = make_pack(&tmp.path().join("pack"), n, &schema)?;
        admin.apply_schema()?;
        println!("postgres bench: {n} records into {}", admin.describe());

        let (r, import) = timed_sync(&config, &table, &mpath, Direction::JsonToSql)?;
        assert_eq!(r.json_to_sql.inserted as usize, n);
        let (r, resync) = timed_sync(&config, &table, &mpath, Direction::Bidirectional)?;
        assert_eq!((r.json_to_sql.inserted, r.sql_to_json.inserted), (0, 0));
        let out_dir = tmp.path().join("export");
        let mut m2 = Manifest::new("export", "mediawiki", "wookieepedia", "page");
        m2.sql_target.schema = schema.clone();
        let m2path = exchange_sync::pack::init_dataset(&out_dir, &mut m2, now())?;
        let (r, export) = timed_sync(&config, &table, &m2path, Direction::SqlToJson)?;
        assert_eq!(r.sql_to_json.inserted as usize, n);

        // The peer: the same rows, the same (emptied) table and indexes, raw \copy.
        let csv = tmp.path().join("rows.csv");
        let cols = "exchange_id, exchange_type, source_system, entity_type, natural_key, \
                    observed_at_utc, observed_at_utc_text, content_sha256, payload_json, schema_version";
        psql(
            &url,
            &format!(
                "\\copy (SELECT {cols} FROM {quoted}) TO '{}' CSV",
                csv.display()
            ),
        )?;
        let csv_mb = std::fs::metadata(&csv)?.len() as f64 / 1e6;
        psql(&url, &format!("TRUNCATE {quoted}"))?;
        let copy = psql(
            &url,
            &format!("\\copy {quoted} ({cols}) FROM '{}' CSV", csv.display()),
        )?;
        assert_eq!(admin.count(None)?, n as u64);

        let rate = |d: Duration| n as f64 / d.as_secs_f64();
        let line = |name: &str, p: Phase, what: String| {
            println!(
                "{name:<16}{:>8.2}s wall {:>8.2}s CPU {:>6.0} MB peak RSS  {what}",
                p.wall.as_secs_f64(),
                p.cpu,
                p.rss_mb
            );
        };
        line(
            "import:",
            import,
            format!(
                "{:>9.0} records/s = {:.0}% of psql \\copy (goal >= 70%)",
                rate(import.wall),
                100.0 * copy.as_secs_f64() / import.wall.as_secs_f64()
            ),
        );
        line(
            "no-op resync:",
            resync,
            format!(
                "{:>9.0} records/s = {:.0}% of import wall",
                rate(resync.wall),
                100.0 * resync.wall.as_secs_f64() / import.wall.as_secs_f64()
            ),
        );
        line(
            "export:",
            export,
            format!("{:>9.0} records/s", rate(export.wall)),
        );
        println!(
            "{:<16}{:>8.2}s wall (whole psql process)               {:>9.0} records/s, {csv_mb:.0} MB CSV",
            "psql \\copy:",
            copy.as_secs_f64(),
            rate(copy)
        );
        Ok(())
    })();
    let _ = admin.execute_batch(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"));
    result
}
