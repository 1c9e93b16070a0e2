//! `cargo xtask bench --scale`: how the cost of each command grows with the store.
//!
//! For each size (`--sizes 100000,1000000`, default; `--quick`: 10,000 and
//! 100,000) one store is filled with that many synthetic jobs through the store
//! API, a snapshot of them is saved as chain `scale`, and then the release `fabric`
//! binary is timed as whole processes (wall seconds and peak RSS from
//! `/usr/bin/time`):
//!
//! * bulk work: `fabric report` (median of 3), `fabric db check` (the full
//!   integrity check, once), `fabric snapshot create --save` (once);
//! * point reads: `fabric snapshot show scale@1` and `fabric job ID` (median of 11),
//!   beside the sqlite3 CLI reading the same payload row when `sqlite3` is on PATH.
//!
//! `--keep DIR` keeps the stores in `DIR` (`scale-N.db`) and reuses them on the
//! next run instead of filling them again (filling a million jobs takes minutes).
//!
//! It prints one table row per size, then the flatness check: `snapshot show` on a
//! store at least 10x larger must take at most 2x as long, as the median of 21
//! alternating pairs (exit 1 otherwise).
//! Bulk work is expected to grow linearly, point reads to stay flat.
//!
//! A second table times the bulk commands on inputs of N records (`--bulk-sizes`,
//! default 10,000, 100,000 and 1,000,000; `--quick`: 1,000 and 10,000): ingest,
//! exchange add, import, no-op sync and export, and dashboard export (see
//! `scale/bulk.rs`). `--skip-jobs` and `--skip-bulk` leave one table out.

#[path = "scale/bulk.rs"]
mod bulk;
mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use common::fill_store;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// How much longer a point read may take on a store at least 10x larger.
const FLAT_LIMIT: f64 = 2.0;

/// One size's figures.
#[derive(Debug)]
struct Row {
    jobs: usize,
    db: PathBuf,
    store_mb: f64,
    /// `None` when the store was reused (`--keep`).
    fill_s: Option<f64>,
    report: Timed,
    create: Timed,
    check: Timed,
    show: Timed,
    job: Timed,
    sqlite3: Option<Timed>,
}

/// Wall seconds and peak RSS (MB) of one command: the median run's.
#[derive(Debug, Clone, Copy)]
struct Timed {
    secs: f64,
    rss_mb: f64,
}

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let skip = |table: &str| args.iter().any(|a| a == &format!("--skip-{table}"));
    let sizes = match sizes_arg(&args, "--sizes")? {
        _ if skip("jobs") => Vec::new(),
        Some(sizes) => sizes,
        None if quick => vec![10_000, 100_000],
        None => vec![100_000, 1_000_000],
    };
    let bulk_sizes = match sizes_arg(&args, "--bulk-sizes")? {
        _ if skip("bulk") => Vec::new(),
        Some(sizes) => sizes,
        None if quick => vec![1_000, 10_000],
        None => vec![10_000, 100_000, 1_000_000],
    };
    let work = tempfile::tempdir()?;
    let keep = args
        .iter()
        .position(|a| a == "--keep")
        .and_then(|i| args.get(i + 1))
        .map(PathBuf::from);
    let fabric = PathBuf::from(env!("CARGO_BIN_EXE_fabric"));
    let sqlite3 = Command::new("sqlite3")
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success());
    let mut rows = Vec::new();
    for &jobs in &sizes {
        let folder = keep.as_deref().unwrap_or(work.path());
        std::fs::create_dir_all(folder)?;
        let db = folder.join(format!("scale-{jobs}.db"));
        let reuse = keep.is_some() && db.exists();
        let started = Instant::now();
        if !reuse {
            fill_store(&db, jobs)?;
        }
        let fill_s = (!reuse).then(|| started.elapsed().as_secs_f64());
        let run = |args: &[&str], runs: usize| timed(&fabric, &db, args, runs);
        let create = run(&["snapshot", "create", "--save", "--key", "scale"], 1)?;
        let report = run(&["report", "--format", "json"], 3)?;
        let show = run(&["snapshot", "show", "scale@1"], 11)?;
        let job = run(&["job", "job-00000042"], 11)?;
        let check = run(&["db", "check"], 1)?;
        let sqlite3 = if sqlite3 {
            let sql = "SELECT length(payload) FROM chain_payloads WHERE version_id = \
                       (SELECT id FROM chain_versions WHERE chain_key = 'scale' AND version = 1)";
            Some(timed_cmd(
                Command::new("sqlite3").arg("-readonly").arg(&db).arg(sql),
                11,
            )?)
        } else {
            None
        };
        let row = Row {
            jobs,
            db: db.clone(),
            store_mb: std::fs::metadata(&db)?.len() as f64 / 1e6,
            fill_s,
            report,
            create,
            check,
            show,
            job,
            sqlite3,
        };
        print_row(&row, rows.is_empty());
        rows.push(row);
    }
    let flat = flatness(&fabric, &rows);
    if keep.is_none() {
        for row in &rows {
            std::fs::remove_file(&row.db)?;
        }
    }
    for (i, &n) in bulk_sizes.iter().enumerate() {
        let folder = keep.as_deref().unwrap_or(work.path());
        std::fs::create_dir_all(folder)?;
        bulk::print_row(&bulk::measure(&fabric, folder, n)?, i == 0);
    }
    flat
}

/// The comma-separated sizes after `flag`, if given (`_` allowed as a separator).
fn sizes_arg(args: &[String], flag: &str) -> Res<Option<Vec<usize>>> {
    let Some(i) = args.iter().position(|a| a == flag) else {
        return Ok(None);
    };
    let list = args
        .get(i + 1)
        .ok_or_else(|| format!("{flag} needs a comma-separated list"))?;
    let sizes = list
        .split(',')
        .map(|s| s.trim().replace('_', "").parse())
        .collect::<Result<_, _>>()?;
    Ok(Some(sizes))
}

/// `snapshot show` on every store at least 10x larger than another must stay
/// within [`FLAT_LIMIT`] of its time: timed in pairs (small, large, small,
/// large...), the median of the pair ratios, so that a machine whose speed
/// drifts between the two sizes' rows does not decide it.
fn flatness(fabric: &Path, rows: &[Row]) -> Res<()> {
    let mut failed = false;
    for small in rows {
        for large in rows.iter().filter(|r| r.jobs >= 10 * small.jobs) {
            let ratio = paired_ratio(fabric, &small.db, &large.db, 21)?;
            let verdict = if ratio <= FLAT_LIMIT { "ok" } else { "FAIL" };
            println!(
                "flat: snapshot show on {} jobs / on {} jobs = {ratio:.2}x (limit {FLAT_LIMIT}x): {verdict}",
                large.jobs, small.jobs
            );
            failed |= ratio > FLAT_LIMIT;
        }
    }
    if failed {
        Err("a point read grew with the store".into())
    } else {
        Ok(())
    }
}

/// The median of `pairs` ratios large/small of `snapshot show scale@1` wall time.
fn paired_ratio(fabric: &Path, small: &Path, large: &Path, pairs: usize) -> Res<f64> {
    let once = |db: &Path| -> Res<f64> {
        let started = Instant::now();
        let status = Command::new(fabric)
            .arg("--db")
            .arg(db)
            .args(["--quiet", "snapshot", "show", "scale@1"])
            .stdout(Stdio::null())
            .status()?;
        if !status.success() {
            return Err(format!("snapshot show on {} failed: {status}", db.display()).into());
        }
        Ok(started.elapsed().as_secs_f64())
    };
    // One run of each first, not counted: the file's first pages come into the cache.
    once(small)?;
    once(large)?;
    let mut ratios = Vec::with_capacity(pairs);
    for _ in 0..pairs {
        let a = once(small)?;
        let b = once(large)?;
        ratios.push(b / a);
    }
    ratios.sort_by(f64::total_cmp);
    ratios
        .get(ratios.len() / 2)
        .copied()
        .ok_or_else(|| "no pair".into())
}

fn print_row(row: &Row, header: bool) {
    if header {
        println!(
            "| jobs | store | fill (API) | report | snapshot create --save | db check | snapshot show | job ID | sqlite3 CLI, same row |"
        );
        println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    }
    let ms = |t: &Timed| format!("{:.1} ms, {:.0} MB", t.secs * 1000.0, t.rss_mb);
    let s = |t: &Timed| format!("{:.2} s, {:.0} MB", t.secs, t.rss_mb);
    println!(
        "| {} | {:.0} MB | {} | {} | {} | {} | {} | {} | {} |",
        row.jobs,
        row.store_mb,
        row.fill_s
            .map_or_else(|| "reused".to_owned(), |s| format!("{s:.1} s")),
        s(&row.report),
        s(&row.create),
        s(&row.check),
        ms(&row.show),
        ms(&row.job),
        row.sqlite3.as_ref().map_or_else(|| "-".to_owned(), ms),
    );
}

/// `fabric --db DB ARGS` `runs` times: the median wall time and its run's RSS.
fn timed(fabric: &Path, db: &Path, args: &[&str], runs: usize) -> Res<Timed> {
    let mut cmd = Command::new(fabric);
    cmd.arg("--db").arg(db).arg("--quiet").args(args);
    timed_cmd(&mut cmd, runs)
}

/// Run `cmd` under `/usr/bin/time` `runs` times (stdout discarded).
fn timed_cmd(cmd: &mut Command, runs: usize) -> Res<Timed> {
    let out_file = tempfile::NamedTempFile::new()?;
    let mut all = Vec::with_capacity(runs);
    for _ in 0..runs {
        let mut wrapped = Command::new("/usr/bin/time");
        wrapped
            .args(["-f", "%e %M", "-o"])
            .arg(out_file.path())
            .arg(cmd.get_program())
            .args(cmd.get_args())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let started = Instant::now();
        let out = wrapped.output()?;
        let secs = started.elapsed().as_secs_f64();
        if !out.status.success() {
            return Err(format!(
                "{:?} failed: {}",
                cmd.get_args().collect::<Vec<_>>(),
                String::from_utf8_lossy(&out.stderr)
            )
            .into());
        }
        let text = std::fs::read_to_string(out_file.path())?;
        let kb: f64 = text
            .split_whitespace()
            .nth(1)
            .and_then(|v| v.parse().ok())
            .unwrap_or(f64::NAN);
        all.push(Timed {
            secs,
            rss_mb: kb / 1024.0,
        });
    }
    all.sort_by(|a, b| a.secs.total_cmp(&b.secs));
    all.get(all.len() / 2)
        .copied()
        .ok_or_else(|| "no run".into())
}
