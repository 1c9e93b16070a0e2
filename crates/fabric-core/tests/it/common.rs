//! Helpers shared by the integration tests: reading the vectors and ingesting a
//! case's `results/` folder the way the spec's batch order says.

use std::error::Error;
use std::fs;
use std::path::{Path, PathBuf};

use fabric_core::index::FabricIndex;
use fabric_core::ingest::parse_job;
use fabric_core::model::IngestedJob;
use fabric_core::timestamp::Timestamp;

/// Test result with any error.
pub type TestResult<T = ()> = Result<T, Box<dyn Error>>;

/// The vectors folder of the repository.
pub fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors/fabric")
}

/// The case folders, sorted (`01-empty` ... `08-tiny-rates`).
pub fn cases() -> TestResult<Vec<PathBuf>> {
    let mut cases: Vec<PathBuf> = fs::read_dir(vectors().join("cases"))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    cases.sort();
    Ok(cases)
}

/// Every `*.json` under `root`, as relative path components, sorted component by
/// component by code point.
pub fn batch_order(root: &Path) -> TestResult<Vec<Vec<String>>> {
    fn walk(dir: &Path, prefix: &[String], out: &mut Vec<Vec<String>>) -> TestResult {
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            let name = entry
                .file_name()
                .into_string()
                .map_err(|n| format!("non UTF-8 file name {n:?}"))?;
            let mut path = prefix.to_vec();
            path.push(name.clone());
            if entry.file_type()?.is_dir() {
                walk(&entry.path(), &path, out)?;
            } else if name.ends_with(".json") {
                out.push(path);
            }
        }
        Ok(())
    }
    let mut files = Vec::new();
    if root.is_dir() {
        walk(root, &[], &mut files)?;
    }
    files.sort();
    Ok(files)
}

/// The ingestion time of the `n`th file: strictly increasing, UTC.
pub fn ingested_at(n: usize) -> Timestamp {
    let base = time::macros::datetime!(2025-06-01 00:00:00 UTC);
    Timestamp::from_utc(base + time::Duration::milliseconds(n as i64))
}

/// Parse every file of a case's `results/` in batch order.
pub fn parse_results(case: &Path) -> TestResult<Vec<IngestedJob>> {
    let root = case.join("results");
    let mut jobs = Vec::new();
    for (n, rel) in batch_order(&root)?.into_iter().enumerate() {
        let path = rel.iter().fold(root.clone(), |p, c| p.join(c));
        let bytes = fs::read(&path)?;
        jobs.push(parse_job(&rel.join("/"), &bytes, ingested_at(n), "/work")?);
    }
    Ok(jobs)
}

/// The index of a case: every file added in batch order (later ids replace).
pub fn index_of(case: &Path) -> TestResult<FabricIndex> {
    Ok(FabricIndex::from_jobs(parse_results(case)?))
}

/// Read a file of a case as text.
pub fn text(case: &Path, name: &str) -> TestResult<String> {
    Ok(fs::read_to_string(case.join(name))?)
}

/// Read a file of a case as JSON.
pub fn json(case: &Path, name: &str) -> TestResult<serde_json::Value> {
    Ok(serde_json::from_str(&text(case, name)?)?)
}

/// Python's `json.dumps(v, indent=2, ensure_ascii=False)` spelling (what the
/// vectors' JSON files use), plus the newline they end with.
pub fn pretty(value: &serde_json::Value) -> TestResult<String> {
    Ok(serde_json::to_string_pretty(value)? + "\n")
}

/// The case's name (`03-typical-mix`).
pub fn name(case: &Path) -> String {
    case.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
