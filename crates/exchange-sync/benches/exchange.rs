//! `cargo xtask bench exchange`: add, import, no-op re-sync, export, pack and
//! pack --encrypt on `gen_exchange.py` data, with `sqlite-utils` as the peer when
//! it is installed (nothing is installed by this harness).
//!
//! `--quick` runs 2,000 records three times (medians); otherwise `--n N`
//! (default 100,000) runs once. The records come from `benches/gen_exchange.py`
//! (deterministic for a given `--n` and RNG seed); `FABRIC_GEN_EXCHANGE` names
//! another generator with the same arguments.
//! `--data DIR` (or `FABRIC_BENCH_DATA=DIR`) keeps the generated input in `DIR`
//! (`gen-N.ndjson`, then `exchange-N.ndjson` in one scope) and reuses it on the next
//! run: generating 1,000,000 records takes minutes.
//!
//! Every phase prints wall and CPU seconds (all threads) and its own peak RSS
//! (VmHWM reset before the phase); the load average is printed at start and end
//! (the machine is shared: compare ratios of one run, not seconds across runs).

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use exchange_sync::manifest::{ConflictStrategy, Direction, Manifest, ManifestFile};
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

/// Reset the peak RSS (VmHWM) to the current RSS, so the next reading is the
/// peak of what runs in between.
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// Wall time, CPU seconds (all threads) and peak RSS of one phase.
#[derive(Debug, Clone, Copy, Default)]
struct Phase {
    wall: Duration,
    cpu: f64,
    rss_mb: f64,
}

/// Time `f` as one phase.
fn phase<T>(name: &str, f: impl FnOnce() -> Res<T>) -> Res<(T, Phase)> {
    reset_peak();
    let t = Instant::now();
    let c = cpu_secs();
    let out = f()?;
    let p = Phase {
        wall: t.elapsed(),
        cpu: cpu_secs() - c,
        rss_mb: peak_rss_mb(),
    };
    println!(
        "  ({name}: {:.2}s wall, {:.2}s CPU, peak RSS {:.0} MB)",
        p.wall.as_secs_f64(),
        p.cpu,
        p.rss_mb
    );
    Ok((out, p))
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
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/gen_exchange.py"),
        PathBuf::from,
    )
}

/// Generate `n` records and put them all in one scope (import refuses records
/// outside the manifest's scope); returns the file and its size. With a `data`
/// folder the files are kept there and reused.
fn make_input(dir: &Path, data: Option<&Path>, n: usize) -> Res<Option<(PathBuf, u64)>> {
    let folder = data.unwrap_or(dir);
    std::fs::create_dir_all(folder)?;
    let out = folder.join(format!("exchange-{n}.ndjson"));
    if data.is_some() && out.exists() {
        let size = std::fs::metadata(&out)?.len();
        println!("reusing {}", out.display());
        return Ok(Some((out, size)));
    }
    let raw = folder.join(format!("gen-{n}.ndjson"));
    if !(data.is_some() && raw.exists()) {
        let gen_path = generator();
        if !gen_path.exists() {
            println!(
                "gen_exchange.py not found at {} (set FABRIC_GEN_EXCHANGE): skipped",
                gen_path.display()
            );
            return Ok(None);
        }
        let status = Command::new("python3")
            .arg(&gen_path)
            .args(["--n", &n.to_string(), "--seed", "42", "--out"])
            .arg(&raw)
            .status()?;
        if !status.success() {
            println!("gen_exchange.py failed: skipped");
            return Ok(None);
        }
    }
    // Written whole or not at all: a killed run leaves no half file to reuse.
    let mut file = fabric_store::atomic::AtomicFile::create(&out)?;
    let mut w = std::io::BufWriter::new(&mut file);
    for line in std::io::BufReader::new(std::fs::File::open(&raw)?).lines() {
        let line = line?;
        let mut v: serde_json::Value = serde_json::from_str(&line)?;
        v["exchange_type"] = "mediawiki".into();
        v["source_system"] = "wookieepedia".into();
        v["entity_type"] = "page".into();
        writeln!(w, "{}", serde_json::to_string(&v)?)?;
    }
    w.flush()?;
    drop(w);
    file.commit()?;
    if data.is_none() {
        std::fs::remove_file(&raw)?;
    }
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
        batch_commit: None,
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

#[derive(Default)]
struct Round {
    add: Phase,
    import: Phase,
    resync: Phase,
    /// Of the no-op resync: opening the store (integrity check included).
    resync_open: Duration,
    export: Phase,
    pack: Phase,
    pack_enc: Phase,
    pack_bytes: u64,
}

fn round(dir: &Path, input: &Path, n: usize) -> Res<Round> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir)?;
    let mut manifest = Manifest::new("bench", "mediawiki", "wookieepedia", "page");
    let mpath = exchange_sync::pack::init_dataset(dir, &mut manifest, now())?;
    let add_opts = exchange_sync::add::AddOptions {
        dry_run: false,
        raw: false,
        chunk_size: 1000,
        provenance: Default::default(),
        input_bytes: std::fs::metadata(input).ok().map(|m| m.len()),
    };
    let (added, add) = phase("add", || {
        let mut reader = std::io::BufReader::new(std::fs::File::open(input)?);
        Ok(exchange_sync::add::add(
            &mpath,
            &mut reader,
            input,
            &add_opts,
            now(),
        )?)
    })?;
    assert_eq!(added.added as usize, n);
    parse_costs(&dir.join("bench"))?;
    let db = dir.join("fabric.db");
    let (r, import) = phase("import (open + sync)", || {
        let mut mirror = SqliteMirror::open(&db, "lake", "RawExchangeRecord", &store_options())?;
        Ok(sync(
            &Manifest::load(&mpath)?,
            &mpath,
            &mut mirror,
            &options(Direction::JsonToSql),
            &now,
            &mut |_, _, _| {},
        )?)
    })?;
    assert_eq!(r.json_to_sql.inserted as usize, n);
    let ((r, mut mirror), resync) = phase("no-op resync (open + sync both ways)", || {
        let mut mirror = SqliteMirror::open(&db, "lake", "RawExchangeRecord", &store_options())?;
        let r = sync(
            &Manifest::load(&mpath)?,
            &mpath,
            &mut mirror,
            &options(Direction::Bidirectional),
            &now,
            &mut |_, _, _| {},
        )?;
        Ok((r, mirror))
    })?;
    let resync_open = mirror.check_duration().unwrap_or_default();
    match mirror.check_duration() {
        Some(d) => println!(
            "  (the no-op resync's whole-file check ({}), beside its reads: {:.2}s)",
            store_options().check.as_str(),
            d.as_secs_f64()
        ),
        None => println!("  (the no-op resync ran no whole-file check: policy touched)"),
    }
    assert_eq!(
        (
            r.json_to_sql.inserted,
            r.json_to_sql.updated,
            r.sql_to_json.inserted
        ),
        (0, 0, 0)
    );
    // The check at open, every way, on the same file (the exchange commands follow
    // the policy, touched by default; fabric db check runs integrity_check).
    for check in [
        fabric_store::OpenCheck::Integrity,
        fabric_store::OpenCheck::Quick,
        fabric_store::OpenCheck::Touched,
    ] {
        let d = store_options()
            .open_checked(&db, check)?
            .integrity_check_duration();
        println!("  (open with {check:?} check: {:.2}s)", d.as_secs_f64());
    }
    let out = dir.join("export");
    let mut m2 = Manifest::new("export", "mediawiki", "wookieepedia", "page");
    let m2path = exchange_sync::pack::init_dataset(&out, &mut m2, now())?;
    let (r, export) = phase("export", || {
        Ok(sync(
            &Manifest::load(&m2path)?,
            &m2path,
            &mut mirror,
            &options(Direction::SqlToJson),
            &now,
            &mut |_, _, _| {},
        )?)
    })?;
    assert_eq!(r.sql_to_json.inserted as usize, n);
    drop(mirror);
    let pack_bytes = dir_bytes(&dir.join("bench"));
    let ((), pack) = phase("pack", || {
        let m = Manifest::load(&mpath)?;
        exchange_sync::archive::pack(&m, &mpath, &dir.join("a.zip"), None, false, &mut |_, _| {})?;
        Ok(())
    })?;
    let _ = std::fs::remove_file(dir.join("a.zip"));
    let ((), pack_enc) = phase("pack --encrypt", || {
        let m = Manifest::load(&mpath)?;
        exchange_sync::archive::pack(
            &m,
            &mpath,
            &dir.join("b.zip.enc"),
            Some(b"bench passphrase"),
            false,
            &mut |_, _| {},
        )?;
        Ok(())
    })?;
    let _ = std::fs::remove_file(dir.join("b.zip.enc"));
    Ok(Round {
        add,
        import,
        resync,
        resync_open,
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

/// Time `cmd`; on failure print the last line of its error output (where a Python
/// traceback says what went wrong).
fn time_cmd(name: &str, cmd: &mut Command) -> Option<Duration> {
    let t = Instant::now();
    let out = cmd.stdout(std::process::Stdio::null()).output().ok()?;
    if out.status.success() {
        return Some(t.elapsed());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    let last = err.lines().rfind(|l| !l.trim().is_empty()).unwrap_or("");
    println!(
        "peer sqlite-utils {name}: failed ({}): {:.200}",
        out.status, last
    );
    None
}

/// The sqlite-utils timings (`None`: that command failed).
struct Peers {
    insert: Option<Duration>,
    upsert: Option<Duration>,
    rows: Option<Duration>,
}

fn peers(dir: &Path, input: &Path, n: usize) -> Option<Peers> {
    let found = Command::new("sqlite-utils")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        println!("peer sqlite-utils: not installed, skipped (the harness installs nothing)");
        return None;
    }
    let db = dir.join("peer.db");
    let _ = std::fs::remove_file(&db);
    let rate = |d: Duration| n as f64 / d.as_secs_f64();
    let report = |name: &str, d: Option<Duration>| {
        if let Some(d) = d {
            println!(
                "peer sqlite-utils {name}: {:.2}s ({:.0} records/s)",
                d.as_secs_f64(),
                rate(d)
            );
        }
        d
    };
    // The same file both ways: insert (keyed by exchange_id, as our mirror is), a
    // second pass as upsert, then every row out.
    let sqlite_utils = |verb: &str| {
        let mut cmd = Command::new("sqlite-utils");
        cmd.arg(verb).arg(&db).arg("r");
        cmd
    };
    // Keyed by exchange_id, as our mirror is.
    let keyed = |verb: &str| {
        let name = format!("{verb} --nl");
        let mut cmd = sqlite_utils(verb);
        cmd.arg(input).arg("--nl").args(["--pk", "exchange_id"]);
        report(&name, time_cmd(&name, &mut cmd))
    };
    let insert = keyed("insert");
    let upsert = keyed("upsert");
    let rows = report(
        "rows --nl",
        time_cmd("rows --nl", sqlite_utils("rows").arg("--nl")),
    );
    Some(Peers {
        insert,
        upsert,
        rows,
    })
}

/// The store options the benchmark opens with: as the CLI fills them,
/// `FABRIC_CHECK=quick|full` measures the whole-file check policies.
fn store_options() -> fabric_store::StoreOptions {
    let check = std::env::var("FABRIC_CHECK")
        .ok()
        .and_then(|v| fabric_store::CheckPolicy::parse(&v))
        .unwrap_or_default();
    fabric_store::StoreOptions {
        check,
        ..fabric_store::StoreOptions::default()
    }
}

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let n: usize = value("--n")
        .and_then(|s| s.parse().ok())
        .unwrap_or(if quick { 2_000 } else { 100_000 });
    let data: Option<PathBuf> = value("--data")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("FABRIC_BENCH_DATA").map(PathBuf::from));
    let reps = if quick { 3 } else { 1 };
    let tmp = tempfile::tempdir()?;
    let Some((input, input_bytes)) = make_input(tmp.path(), data.as_deref(), n)? else {
        return Ok(());
    };
    println!(
        "exchange bench: {n} records, {:.1} MB input, {reps} run(s), medians; load average {}",
        input_bytes as f64 / 1e6,
        load_average()
    );
    let mut rounds = Vec::new();
    for i in 0..reps {
        rounds.push(round(&tmp.path().join(format!("run{i}")), &input, n)?);
    }
    let m = |f: fn(&Round) -> Phase| {
        let mut v: Vec<Phase> = rounds.iter().map(f).collect();
        v.sort_by_key(|p| p.wall);
        v[v.len() / 2]
    };
    let (add, import, resync, export, pack, pack_enc) = (
        m(|r| r.add),
        m(|r| r.import),
        m(|r| r.resync),
        m(|r| r.export),
        m(|r| r.pack),
        m(|r| r.pack_enc),
    );
    let resync_open = median(rounds.iter().map(|r| r.resync_open).collect());
    let pack_mb = rounds.first().map_or(0, |r| r.pack_bytes) as f64 / 1e6;
    let in_mb = input_bytes as f64 / 1e6;
    let rate = |p: Phase| n as f64 / p.wall.as_secs_f64();
    let mbs = |p: Phase, mb: f64| mb / p.wall.as_secs_f64();
    let line = |name: &str, p: Phase, what: String| {
        println!(
            "{name:<14}{:>8.2}s wall {:>8.2}s CPU {:>6.0} MB peak RSS  {what}",
            p.wall.as_secs_f64(),
            p.cpu,
            p.rss_mb
        );
    };
    line(
        "add:",
        add,
        format!("{:>9.0} records/s {:>6.1} MB/s", rate(add), mbs(add, in_mb)),
    );
    line(
        "import:",
        import,
        format!(
            "{:>9.0} records/s {:>6.1} MB/s (target >= 50,000 records/s on 1M)",
            rate(import),
            mbs(import, pack_mb)
        ),
    );
    line(
        "no-op resync:",
        resync,
        format!(
            "{:>9.0} records/s = {:.0}% of import wall, {:.0}% of its CPU (target <= 25%); whole-file check {:.2}s",
            rate(resync),
            100.0 * resync.wall.as_secs_f64() / import.wall.as_secs_f64(),
            100.0 * resync.cpu / import.cpu.max(1e-9),
            resync_open.as_secs_f64()
        ),
    );
    line(
        "export:",
        export,
        format!(
            "{:>9.0} records/s {:>6.1} MB/s (target >= 200,000 records/s)",
            rate(export),
            mbs(export, pack_mb)
        ),
    );
    line("pack:", pack, format!("{:>6.1} MB/s", mbs(pack, pack_mb)));
    line(
        "pack encrypt:",
        pack_enc,
        format!("{:>6.1} MB/s", mbs(pack_enc, pack_mb)),
    );
    println!(
        "peak memory:  {:>8.0} MB (largest phase peak; target < 300 MB on 1M, flat in pack size)",
        [add, import, resync, export, pack, pack_enc]
            .iter()
            .map(|p| p.rss_mb)
            .fold(0.0, f64::max)
    );
    println!("load average at end: {}", load_average());
    if let Some(p) = peers(tmp.path(), &input, n) {
        let ratio = |ours: Phase, theirs: Option<Duration>, peer: &str| {
            theirs.map_or(format!("no ratio ({peer} failed)"), |d| {
                format!(
                    "{:.1}x faster than {peer}",
                    d.as_secs_f64() / ours.wall.as_secs_f64()
                )
            })
        };
        println!(
            "vs sqlite-utils: import {} (target >= 6x), no-op resync {}, export {}",
            ratio(import, p.insert, "insert --nl"),
            ratio(resync, p.upsert, "upsert --nl"),
            ratio(export, p.rows, "rows --nl")
        );
    }
    Ok(())
}
