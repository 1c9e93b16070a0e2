//! Timed harness for the jobs pipeline (not a test): run by `cargo xtask bench`.
//!
//! * ingest of N JobExecutionResult files (gen_corpus.py, about 4 KB each) through
//!   the release `fabric` binary: files/s;
//! * `fabric report` over M stored jobs (open + integrity check + streamed rows +
//!   report): seconds, the integrity check's share, and peak memory (max RSS).
//!
//! Sizes: 100,000 files and 1,000,000 jobs; `--quick`: 5,000 and 50,000.
//! Medians over the runs are printed; compare ratios, not absolute seconds.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use common::fill_store;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let quick = std::env::args().any(|a| a == "--quick");
    let (files, jobs, runs) = if quick {
        (5_000_usize, 50_000_usize, 3)
    } else {
        (100_000, 1_000_000, 3)
    };
    let work = tempfile::tempdir()?;
    let fabric = PathBuf::from(env!("CARGO_BIN_EXE_fabric"));

    // --- ingest -------------------------------------------------------------------
    let corpus = work.path().join("corpus");
    let generator =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors/fabric/gen_corpus.py");
    // gen_corpus.py slows down super-linearly with --jobs, so the corpus is made of
    // parts of at most 5,000 files (distinct seeds, one folder each).
    let generated = (0..files.div_ceil(PART))
        .map(|part| {
            let n = PART.min(files - part * PART);
            Command::new("python3")
                .arg(&generator)
                .args([
                    "--seed",
                    &(2026 + part).to_string(),
                    "--jobs",
                    &n.to_string(),
                    "--out",
                ])
                .arg(corpus.join(format!("part-{part:03}")))
                .output()
        })
        .try_fold(None, |_, out| match out {
            Ok(o) if o.status.success() => Ok(Some(o)),
            Ok(o) => Err(std::io::Error::other(
                String::from_utf8_lossy(&o.stderr).into_owned(),
            )),
            Err(e) => Err(e),
        });
    match generated {
        Ok(_) => {
            let bytes: u64 = walk_size(&corpus);
            let mut secs = Vec::new();
            for run in 0..runs {
                let db = work.path().join(format!("ingest-{run}.db"));
                let started = Instant::now();
                let status = Command::new(&fabric)
                    .arg("--db")
                    .arg(&db)
                    .args(["--quiet", "ingest"])
                    .arg(&corpus)
                    .stdout(std::process::Stdio::null())
                    .status()?;
                secs.push(started.elapsed().as_secs_f64());
                if !status.success() {
                    return Err(format!("fabric ingest failed: {status}").into());
                }
            }
            let med = median(&mut secs);
            println!(
                "ingest: {files} files ({:.1} MB): median {med:.2} s = {:.0} files/s (target >= 20,000; reference Python ~570)",
                bytes as f64 / 1e6,
                files as f64 / med
            );
        }
        _ => println!(
            "ingest: skipped (python3 and gen_corpus.py are needed to generate the corpus)"
        ),
    }

    // --- report over many stored jobs -------------------------------------------------
    let db = work.path().join("report.db");
    fill_store(&db, jobs)?;
    let size = std::fs::metadata(&db)?.len();
    let mut secs = Vec::new();
    let mut check = Vec::new();
    let mut rss = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        let out = Command::new("/usr/bin/time")
            .args(["-f", "%M"])
            .arg(&fabric)
            .arg("--db")
            .arg(&db)
            .args(["--verbose", "report", "--format", "json"])
            .output()
            .or_else(|_| {
                Command::new(&fabric)
                    .arg("--db")
                    .arg(&db)
                    .args(["--verbose", "report", "--format", "json"])
                    .output()
            })?;
        secs.push(started.elapsed().as_secs_f64());
        if !out.status.success() {
            return Err(format!(
                "fabric report failed: {}",
                String::from_utf8_lossy(&out.stderr)
            )
            .into());
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        for line in stderr.lines() {
            if let Some(rest) = line.split("integrity check ").nth(1) {
                if let Some(v) = rest.split_whitespace().next().and_then(|v| v.parse().ok()) {
                    check.push(v);
                }
            } else if let Ok(kb) = line.trim().parse::<f64>() {
                rss.push(kb / 1024.0);
            }
        }
    }
    let med = median(&mut secs);
    let med_check = if check.is_empty() {
        f64::NAN
    } else {
        median(&mut check)
    };
    let rss = if rss.is_empty() {
        "unknown (no /usr/bin/time)".to_owned()
    } else {
        format!("{:.0} MB", median(&mut rss))
    };
    println!(
        "report: {jobs} jobs ({:.0} MB store): median {med:.2} s, integrity check {med_check:.2} s ({:.0}%), peak RSS {rss} (target <= 6 s, < 1 GB)",
        size as f64 / 1e6,
        100.0 * med_check / med
    );
    Ok(())
}

/// Files per gen_corpus.py run.
const PART: usize = 5_000;

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn walk_size(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                total += entry.metadata().map(|m| m.len()).unwrap_or(0);
            }
        }
    }
    total
}
