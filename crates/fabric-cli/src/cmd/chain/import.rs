//! Reading the report files of `fabric snapshot import-reports`.

use std::path::{Path, PathBuf};

use serde_json::Value;
use time::OffsetDateTime;

use super::Order;
use crate::error::CliError;

/// One report file to import.
#[derive(Debug)]
pub struct ReportFile {
    /// Its path.
    pub path: PathBuf,
    /// Its file name (for the output).
    pub name: String,
    /// Its modification time (the version's `retrieved_at`).
    pub modified: OffsetDateTime,
}

/// The `*.json` files directly in `dir`, oldest first (`mtime`, ties by name) or by
/// name. No file is a usage error.
pub fn report_files(dir: &Path, order: Order) -> Result<Vec<ReportFile>, CliError> {
    let read_err = |source: std::io::Error| CliError::Input {
        path: dir.to_path_buf(),
        what: "cannot read the report folder",
        source: Box::new(source),
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_err)? {
        let entry = entry.map_err(read_err)?;
        let path = entry.path();
        let is_json = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"));
        let meta = entry.metadata().map_err(read_err)?;
        if !is_json || !meta.is_file() {
            continue;
        }
        let modified = meta.modified().map_err(|source| CliError::Input {
            path: path.clone(),
            what: "cannot read the modification time of",
            source: Box::new(source),
        })?;
        files.push(ReportFile {
            name: entry.file_name().to_string_lossy().into_owned(),
            path,
            modified: OffsetDateTime::from(modified),
        });
    }
    match order {
        Order::Mtime => files.sort_by(|a, b| {
            a.modified
                .cmp(&b.modified)
                .then_with(|| a.name.cmp(&b.name))
        }),
        Order::Name => files.sort_by(|a, b| a.name.cmp(&b.name)),
    }
    if files.is_empty() {
        return Err(CliError::Usage(format!(
            "no *.json report files in {}",
            dir.display()
        )));
    }
    Ok(files)
}

/// Read and parse one report file; any failure names the file.
pub fn read_report(path: &Path) -> Result<Value, CliError> {
    let bytes = crate::input::read_document(path, "report")?;
    serde_json::from_slice(&bytes).map_err(|source| CliError::Input {
        path: path.to_path_buf(),
        what: "report is not JSON:",
        source: Box::new(source),
    })
}
