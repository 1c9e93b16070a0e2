//! The bulk commands of the scaling table, through the release binary at each size:
//! `fabric ingest` of N/10 JobExecutionResult files (`gen_corpus.py`, about 4 KB
//! each), and on N exchange records (`gen_exchange.py`, about 1.9 KB each, one
//! scope) `exchange add` into a new pack, `exchange import` into a new store, the
//! no-op `exchange sync` both ways after it (median of 3), `exchange export` into a
//! second pack; and `dashboard export` of a bundle assembled from N students
//! (`gen_dashboard.py`, 200 resources).
//!
//! Each command runs as a whole process under `/usr/bin/time` (wall seconds, peak
//! RSS). The generated inputs are kept under `--keep DIR` and reused, since
//! generating a million records takes minutes.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{Res, Timed, timed_cmd};

/// Files per `gen_corpus.py` call: it slows down super-linearly with `--jobs`.
const CORPUS_PART: usize = 5_000;

/// One size's bulk figures; `None` where the generator was not found.
#[derive(Debug)]
pub struct BulkRow {
    pub n: usize,
    pub ingest: Option<(usize, Timed)>,
    pub exchange: Option<Exchange>,
    pub dashboard: Option<Timed>,
}

/// The exchange commands on one pack of `n` records.
#[derive(Debug)]
pub struct Exchange {
    pub add: Timed,
    pub import: Timed,
    pub noop: Timed,
    pub export: Timed,
}

/// The repository's root (the bench runs with the crate's folder as its own).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn python(script: &Path, args: &[&str], out: &Path) -> Res<bool> {
    if !script.exists() {
        println!("{} not found: its column is skipped", script.display());
        return Ok(false);
    }
    let status = Command::new("python3")
        .arg(script)
        .args(args)
        .arg(out)
        .status()?;
    Ok(status.success())
}

/// Runs `fabric [--db DB] --quiet ARGS` the given number of times: the median.
type Run<'a> = &'a dyn Fn(&[&str], Option<&Path>, usize) -> Res<Timed>;

/// Run every bulk command at size `n`, inputs under `folder` (kept when `keep`).
pub fn measure(fabric: &Path, folder: &Path, n: usize) -> Res<BulkRow> {
    let run = |args: &[&str], db: Option<&Path>, runs: usize| -> Res<Timed> {
        let mut cmd = Command::new(fabric);
        if let Some(db) = db {
            cmd.arg("--db").arg(db);
        }
        cmd.arg("--quiet").args(args);
        timed_cmd(&mut cmd, runs)
    };
    let work = tempfile::tempdir_in(folder)?;

    let files = (n / 10).max(1);
    let corpus = folder.join(format!("corpus-{files}"));
    let ingest = if corpus_ready(&corpus, files)? {
        let db = work.path().join("ingest.db");
        let corpus_s = corpus.to_string_lossy().into_owned();
        Some((files, run(&["ingest", &corpus_s], Some(&db), 1)?))
    } else {
        None
    };

    let records = folder.join(format!("exchange-{n}.ndjson"));
    let exchange = if records.exists()
        || python(
            &root().join("crates/exchange-sync/benches/gen_exchange.py"),
            &[
                "--n",
                &n.to_string(),
                "--scope",
                "mediawiki,wookieepedia,page",
                "--out",
            ],
            &records,
        )? {
        Some(exchange(&run, work.path(), &records)?)
    } else {
        None
    };

    let scope = folder.join(format!("dashboard-{n}"));
    let dashboard = if scope.join("oracles.json").exists()
        || python(
            &root().join("crates/dashboard-snapshot/benches/gen_dashboard.py"),
            &["--students", &n.to_string()],
            &scope,
        )? {
        let bundle = scope.join("bundle.json");
        if !bundle.exists() {
            let out = Command::new(fabric)
                .args(["--quiet", "dashboard", "assemble", "--scope"])
                .arg(scope.join("scope.json"))
                .arg("--oracles")
                .arg(scope.join("oracles.json"))
                .output()?;
            if !out.status.success() {
                return Err(format!(
                    "dashboard assemble failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                )
                .into());
            }
            let mut file = fabric_store::atomic::AtomicFile::create(&bundle)?;
            std::io::Write::write_all(&mut file, &out.stdout)?;
            file.commit()?;
        }
        let zip = work.path().join("out.zip");
        let (bundle, zip) = (bundle.to_string_lossy(), zip.to_string_lossy());
        Some(run(
            &["dashboard", "export", "--bundle", &bundle, "--out", &zip],
            None,
            1,
        )?)
    } else {
        None
    };
    Ok(BulkRow {
        n,
        ingest,
        exchange,
        dashboard,
    })
}

/// `files` job files under `corpus`, generated once (in parts, distinct seeds).
fn corpus_ready(corpus: &Path, files: usize) -> Res<bool> {
    let done = corpus.join(".complete");
    if done.exists() {
        return Ok(true);
    }
    let script = root().join("tests/vectors/fabric/gen_corpus.py");
    for part in 0..files.div_ceil(CORPUS_PART) {
        let count = CORPUS_PART.min(files - part * CORPUS_PART);
        let (seed, count) = ((2026 + part).to_string(), count.to_string());
        let out = corpus.join(format!("part-{part:04}"));
        if !python(&script, &["--seed", &seed, "--jobs", &count, "--out"], &out)? {
            return Ok(false);
        }
    }
    std::fs::write(done, b"")?;
    Ok(true)
}

/// add, import, no-op sync and export on the records in `records`.
fn exchange(run: Run<'_>, work: &Path, records: &Path) -> Res<Exchange> {
    let packs = work.join("packs");
    let packs_s = packs.to_string_lossy().into_owned();
    for name in ["bench", "export"] {
        run(
            &[
                "exchange",
                "init",
                "--name",
                name,
                "--source",
                "wookieepedia",
                "--entity",
                "page",
                "--type",
                "mediawiki",
                "--out",
                &packs_s,
            ],
            None,
            1,
        )?;
    }
    let manifest = packs
        .join("bench/manifest.json")
        .to_string_lossy()
        .into_owned();
    let second = packs
        .join("export/manifest.json")
        .to_string_lossy()
        .into_owned();
    let db = work.join("exchange.db");
    let records = records.to_string_lossy();
    let add = run(
        &["exchange", "add", "--manifest", &manifest, &records],
        None,
        1,
    )?;
    let import = run(
        &["exchange", "import", "--manifest", &manifest],
        Some(&db),
        1,
    )?;
    let noop = run(&["exchange", "sync", "--manifest", &manifest], Some(&db), 3)?;
    let export = run(&["exchange", "export", "--manifest", &second], Some(&db), 1)?;
    Ok(Exchange {
        add,
        import,
        noop,
        export,
    })
}

/// The bulk table's header and one row (records/s beside each exchange figure).
pub fn print_row(row: &BulkRow, header: bool) {
    if header {
        println!(
            "| N | ingest (N/10 files) | exchange add | exchange import | no-op sync | exchange export | dashboard export (N students) |"
        );
        println!("|---:|---:|---:|---:|---:|---:|---:|");
    }
    let s = |t: &Timed| format!("{:.2} s, {:.0} MB", t.secs, t.rss_mb);
    let rate = |t: &Timed| {
        format!(
            "{:.2} s ({:.0}k/s), {:.0} MB",
            t.secs,
            row.n as f64 / t.secs / 1e3,
            t.rss_mb
        )
    };
    let dash = || "-".to_owned();
    let ex = row.exchange.as_ref();
    println!(
        "| {} | {} | {} | {} | {} | {} | {} |",
        row.n,
        row.ingest.as_ref().map_or_else(dash, |(f, t)| format!(
            "{f}: {:.2} s ({:.0}/s), {:.0} MB",
            t.secs,
            *f as f64 / t.secs,
            t.rss_mb
        )),
        ex.map_or_else(dash, |e| rate(&e.add)),
        ex.map_or_else(dash, |e| rate(&e.import)),
        ex.map_or_else(dash, |e| s(&e.noop)),
        ex.map_or_else(dash, |e| rate(&e.export)),
        row.dashboard.as_ref().map_or_else(dash, s),
    );
}
