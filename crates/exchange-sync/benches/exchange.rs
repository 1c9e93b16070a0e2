//! `cargo xtask bench exchange`: add, import, no-op re-sync, export, pack and
//! pack --encrypt on `gen_exchange.py` data, with `sqlite-utils` as the peer when
//! it is installed (nothing is installed by this harness).
//!
//! `--quick` runs 2,000 records three times (medians); otherwise `--n N`
//! (default 100,000) runs once. Set `FABRIC_GEN_EXCHANGE` to the generator's path
//! if it is not at `../shared/bench/gen_exchange.py` beside the workspace.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use exchange_sync::manifest::{ConflictStrategy, Direction, Manifest};
use exchange_sync::mirror::sqlite::SqliteMirror;
use exchange_sync::sync::{SyncOptions, sync};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|k| k.parse::<f64>().ok())
            })
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// User + system CPU seconds of this process so far (all threads).
fn cpu_secs() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = s.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            let ut: f64 = f.get(11)?.parse().ok()?;
            let st: f64 = f.get(12)?.parse().ok()?;
            Some((ut + st) / 100.0)
        })
        .unwrap_or(0.0)
}

fn generator() -> PathBuf {
    std::env::var_os("FABRIC_GEN_EXCHANGE").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/bench/gen_exchange.py"),
        PathBuf::from,
    )
}

/// Generate `n` records and put them all in one scope (import refuses records
/// outside the manifest's scope); returns the file and its size.
fn make_input(dir: &Path, n: usize) -> Res<Option<(PathBuf, u64)>> {
    let gen_path = generator();
    if !gen_path.exists() {
        println!(
            "gen_exchange.py not found at {} (set FABRIC_GEN_EXCHANGE): skipped",
            gen_path.display()
        );
        return Ok(None);
    }
    let raw = dir.join("raw.ndjson");
    let status = Command::new("python3")
        .arg(&gen_path)
        .args(["--n", &n.to_string(), "--seed", "42", "--out"])
        .arg(&raw)
        .status()?;
    if !status.success() {
        println!("gen_exchange.py failed: skipped");
        return Ok(None);
    }
    let out = dir.join("input.ndjson");
    let mut w = std::io::BufWriter::new(std::fs::File::create(&out)?);
    for line in std::io::BufReader::new(std::fs::File::open(&raw)?).lines() {
        let line = line?;
        let mut v: serde_json::Value = serde_json::from_str(&line)?;
        v["exchange_type"] = "mediawiki".into();
        v["source_system"] = "wookieepedia".into();
        v["entity_type"] = "page".into();
        writeln!(w, "{}", serde_json::to_string(&v)?)?;
    }
    w.flush()?;
    std::fs::remove_file(&raw)?;
    let size = std::fs::metadata(&out)?.len();
    Ok(Some((out, size)))
}

fn options(direction: Direction) -> SyncOptions {
    SyncOptions {
        direction,
        conflict: ConflictStrategy::PreferNewest,
        dry_run: false,
        lenient: false,
        chunk_size: 1000,
    }
}

fn dir_bytes(dir: &Path) -> u64 {
    walk(dir)
}

fn walk(p: &Path) -> u64 {
    std::fs::read_dir(p).map_or(0, |rd| {
        rd.flatten()
            .map(|e| match e.file_type() {
                Ok(t) if t.is_dir() => walk(&e.path()),
                _ => e.metadata().map_or(0, |m| m.len()),
            })
            .sum()
    })
}

struct Round {
    add: Duration,
    import: Duration,
    resync: Duration,
    export: Duration,
    pack: Duration,
    pack_enc: Duration,
    pack_bytes: u64,
}

fn round(dir: &Path, input: &Path, n: usize) -> Res<Round> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir)?;
    let mut manifest = Manifest::new("bench", "mediawiki", "wookieepedia", "page");
    let mpath = exchange_sync::pack::init_dataset(dir, &mut manifest, now())?;
    let t = Instant::now();
    let add_opts = exchange_sync::add::AddOptions {
        dry_run: false,
        chunk_size: 1000,
        provenance: Default::default(),
    };
    let c = cpu_secs();
    let mut reader = std::io::BufReader::new(std::fs::File::open(input)?);
    let added = exchange_sync::add::add(&mpath, &mut reader, input, &add_opts, now())?;
    let add = t.elapsed();
    println!(
        "  (add: {:.2}s wall, {:.2}s CPU)",
        add.as_secs_f64(),
        cpu_secs() - c
    );
    assert_eq!(added.added as usize, n);
    parse_costs(&dir.join("bench"))?;
    let db = dir.join("fabric.db");
    let mut mirror = SqliteMirror::open(&db, "lake", "RawExchangeRecord")?;
    let t = Instant::now();
    let c = cpu_secs();
    let r = sync(
        &mpath,
        &mut mirror,
        &options(Direction::JsonToSql),
        &now,
        &mut |_, _, _| {},
    )?;
    let import = t.elapsed();
    println!(
        "  (import: {:.2}s wall, {:.2}s CPU on all threads)",
        import.as_secs_f64(),
        cpu_secs() - c
    );
    assert_eq!(r.json_to_sql.inserted as usize, n);
    drop(mirror);
    let t = Instant::now();
    let c = cpu_secs();
    let mut mirror = SqliteMirror::open(&db, "lake", "RawExchangeRecord")?;
    let opened = t.elapsed();
    let r = sync(
        &mpath,
        &mut mirror,
        &options(Direction::Bidirectional),
        &now,
        &mut |_, _, _| {},
    )?;
    let resync = t.elapsed();
    println!(
        "  (no-op resync: {:.2}s wall, {:.2}s of it opening the store, {:.2}s CPU)",
        resync.as_secs_f64(),
        opened.as_secs_f64(),
        cpu_secs() - c
    );
    assert_eq!(
        (
            r.json_to_sql.inserted,
            r.json_to_sql.updated,
            r.sql_to_json.inserted
        ),
        (0, 0, 0)
    );
    let out = dir.join("export");
    let mut m2 = Manifest::new("export", "mediawiki", "wookieepedia", "page");
    let m2path = exchange_sync::pack::init_dataset(&out, &mut m2, now())?;
    let t = Instant::now();
    let c = cpu_secs();
    let r = sync(
        &m2path,
        &mut mirror,
        &options(Direction::SqlToJson),
        &now,
        &mut |_, _, _| {},
    )?;
    let export = t.elapsed();
    println!(
        "  (export: {:.2}s wall, {:.2}s CPU)",
        export.as_secs_f64(),
        cpu_secs() - c
    );
    assert_eq!(r.sql_to_json.inserted as usize, n);
    let pack_bytes = dir_bytes(&dir.join("bench"));
    let t = Instant::now();
    exchange_sync::archive::pack(&mpath, &dir.join("a.zip"), None, false, &mut |_, _| {})?;
    let pack = t.elapsed();
    let t = Instant::now();
    exchange_sync::archive::pack(
        &mpath,
        &dir.join("b.zip"),
        Some(b"bench passphrase"),
        false,
        &mut |_, _| {},
    )?;
    let pack_enc = t.elapsed();
    Ok(Round {
        add,
        import,
        resync,
        export,
        pack,
        pack_enc,
        pack_bytes,
    })
}

/// One thread: parse, hash and re-serialise the first 5,000 records, timed apart.
fn parse_costs(pack: &Path) -> Res<()> {
    let reader = exchange_sync::pack::PackReader::open(pack)?;
    let mut lines = Vec::new();
    // A sample: memory stays flat in the pack size.
    reader.for_each_line(|l| {
        if lines.len() < 5000 {
            lines.push(l.text);
        }
        Ok(())
    })?;
    let t = Instant::now();
    let records: Vec<_> = lines
        .iter()
        .filter_map(|l| exchange_sync::ExchangeRecord::parse_line(l).ok())
        .map(|p| p.record)
        .collect();
    let parse = t.elapsed();
    let t = Instant::now();
    let ok = records
        .iter()
        .filter(|r| r.compute_hash() == r.content_sha256)
        .count();
    let hash = t.elapsed();
    let t = Instant::now();
    let bytes: usize = records.iter().map(|r| r.to_line().len()).sum();
    let write = t.elapsed();
    let t = Instant::now();
    let fast = lines
        .iter()
        .filter(|l| exchange_sync::lean::check_line(l, "wookieepedia", "page").is_some())
        .count();
    let lean = t.elapsed();
    let per = |d: Duration| d.as_secs_f64() * 1e6 / lines.len().max(1) as f64;
    println!(
        "  (one thread, per record: import fast path (parse + check + hash) {:.1} us; {fast} lines took it)",
        per(lean)
    );
    println!(
        "  (one thread, per record: parse {:.1} us, canonical hash {:.1} us, write line {:.1} us; {ok} hashes ok, {bytes} bytes)",
        per(parse),
        per(hash),
        per(write)
    );
    Ok(())
}

fn time_cmd(cmd: &mut Command) -> Option<Duration> {
    let t = Instant::now();
    let ok = cmd
        .stdout(std::process::Stdio::null())
        .status()
        .ok()?
        .success();
    ok.then(|| t.elapsed())
}

fn peers(dir: &Path, input: &Path, n: usize) {
    let found = Command::new("sqlite-utils")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        println!("peer sqlite-utils: not installed, skipped (the harness installs nothing)");
        return;
    }
    let db = dir.join("peer.db");
    let _ = std::fs::remove_file(&db);
    let rate = |d: Duration| n as f64 / d.as_secs_f64();
    if let Some(d) = time_cmd(
        Command::new("sqlite-utils")
            .arg("insert")
            .arg(&db)
            .arg("r")
            .arg(input)
            .arg("--nl"),
    ) {
        println!(
            "peer sqlite-utils insert --nl: {:.2}s ({:.0} records/s)",
            d.as_secs_f64(),
            rate(d)
        );
    }
    if let Some(d) = time_cmd(
        Command::new("sqlite-utils")
            .arg("upsert")
            .arg(&db)
            .arg("r")
            .arg(input)
            .arg("--nl")
            .args(["--pk", "exchange_id"]),
    ) {
        println!(
            "peer sqlite-utils upsert --nl: {:.2}s ({:.0} records/s)",
            d.as_secs_f64(),
            rate(d)
        );
    }
    if let Some(d) = time_cmd(
        Command::new("sqlite-utils")
            .arg("rows")
            .arg(&db)
            .arg("r")
            .arg("--nl"),
    ) {
        println!(
            "peer sqlite-utils rows --nl: {:.2}s ({:.0} records/s)",
            d.as_secs_f64(),
            rate(d)
        );
    }
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
    let tmp = tempfile::tempdir()?;
    let Some((input, input_bytes)) = make_input(tmp.path(), n)? else {
        return Ok(());
    };
    println!(
        "exchange bench: {n} records, {:.1} MB input, {reps} run(s), medians",
        input_bytes as f64 / 1e6
    );
    let mut rounds = Vec::new();
    for i in 0..reps {
        rounds.push(round(&tmp.path().join(format!("run{i}")), &input, n)?);
    }
    let m = |f: fn(&Round) -> Duration| median(rounds.iter().map(f).collect());
    let (add, import, resync, export, pack, pack_enc) = (
        m(|r| r.add),
        m(|r| r.import),
        m(|r| r.resync),
        m(|r| r.export),
        m(|r| r.pack),
        m(|r| r.pack_enc),
    );
    let pack_mb = rounds.first().map_or(0, |r| r.pack_bytes) as f64 / 1e6;
    let rate = |d: Duration| n as f64 / d.as_secs_f64();
    println!(
        "add:          {:>8.2}s {:>10.0} records/s {:>7.1} MB/s",
        add.as_secs_f64(),
        rate(add),
        input_bytes as f64 / 1e6 / add.as_secs_f64()
    );
    println!(
        "import:       {:>8.2}s {:>10.0} records/s (target >= 50,000/s on 1M)",
        import.as_secs_f64(),
        rate(import)
    );
    println!(
        "no-op resync: {:>8.2}s {:>10.0} records/s = {:.0}% of import (target <= 30%)",
        resync.as_secs_f64(),
        rate(resync),
        100.0 * resync.as_secs_f64() / import.as_secs_f64()
    );
    println!(
        "export:       {:>8.2}s {:>10.0} records/s (target >= 200,000/s)",
        export.as_secs_f64(),
        rate(export)
    );
    println!(
        "pack:         {:>8.2}s {:>10.1} MB/s",
        pack.as_secs_f64(),
        pack_mb / pack.as_secs_f64()
    );
    println!(
        "pack encrypt: {:>8.2}s {:>10.1} MB/s",
        pack_enc.as_secs_f64(),
        pack_mb / pack_enc.as_secs_f64()
    );
    println!("peak memory:  {:>8.0} MB (VmHWM)", peak_rss_mb());
    peers(tmp.path(), &input, n);
    Ok(())
}
