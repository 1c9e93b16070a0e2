//! The sync report: text in the original tool's layout and pure JSON.

use std::fmt::Write as _;

use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::hash::ContentHash;
use crate::manifest::Direction;

/// How a conflict was resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// The pack record replaced the SQL row.
    JsonWins,
    /// The SQL row was kept.
    SqlWins,
    /// Strategy `fail`: the command aborts.
    Failed,
}

impl Resolution {
    /// Spelling in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Resolution::JsonWins => "json_wins",
            Resolution::SqlWins => "sql_wins",
            Resolution::Failed => "failed",
        }
    }
}

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every half that was asked for ran to its end.
    Completed,
    /// A conflict under strategy `fail` stopped the import: the transaction was
    /// rolled back (batches that `--batch-commit` committed before it stay), no
    /// export ran, and [`SyncReport::errors`] says why.
    Aborted,
}

/// A pack record and a SQL row with the same natural key but other content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The shared natural key.
    pub natural_key: String,
    /// Scope, first half.
    pub source_system: String,
    /// Scope, second half.
    pub entity_type: String,
    /// The pack record's hash.
    pub json_hash: ContentHash,
    /// The SQL row's hash.
    pub sql_hash: ContentHash,
    /// The pack record's `exchange_id`.
    pub json_exchange_id: String,
    /// The SQL row's `exchange_id`.
    pub sql_exchange_id: String,
    /// What happened.
    pub resolution: Resolution,
}

/// JSON → SQL counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportCounts {
    /// New rows.
    pub inserted: u64,
    /// Rows replaced (by `exchange_id`).
    pub updated: u64,
    /// Records already present, or conflicts the SQL side won.
    pub skipped: u64,
}

/// SQL → JSON counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExportCounts {
    /// Records appended to the pack.
    pub inserted: u64,
    /// Rows whose hash the pack's index already holds.
    pub skipped: u64,
}

/// The outcome of `import`, `export` or `sync`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncReport {
    /// Which way it ran.
    pub direction: Direction,
    /// Nothing was written.
    pub dry_run: bool,
    /// Start time.
    pub started_at: OffsetDateTime,
    /// End time.
    pub completed_at: OffsetDateTime,
    /// JSON → SQL.
    pub json_to_sql: ImportCounts,
    /// SQL → JSON.
    pub sql_to_json: ExportCounts,
    /// Every conflict met, in pack order.
    pub conflicts: Vec<Conflict>,
    /// Problems that made the command fail (exit 1), e.g. conflicts under `fail`.
    pub errors: Vec<String>,
    /// Lines skipped with `--lenient`, and other notes.
    pub warnings: Vec<String>,
    /// Pack records seen (import) or indexed (export); the maximum of both halves.
    pub json_record_count: u64,
    /// Rows in scope at the end.
    pub sql_record_count: u64,
    /// Whether the command ran to its end or was aborted (not part of the JSON
    /// and text reports, which say it in `errors`).
    pub outcome: Outcome,
}

fn py_bool(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}

impl SyncReport {
    /// Wall time in seconds.
    pub fn duration_secs(&self) -> f64 {
        (self.completed_at - self.started_at)
            .as_seconds_f64()
            .max(0.0)
    }

    /// The text report in the original tool's layout.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "Sync Report ({})", self.direction.as_str());
        let _ = writeln!(s, "  Dry run: {}", py_bool(self.dry_run));
        let _ = writeln!(s, "  Duration: {:.1}s", self.duration_secs());
        s.push('\n');
        let _ = writeln!(s, "  JSON → SQL:");
        let _ = writeln!(s, "    Inserted: {}", self.json_to_sql.inserted);
        let _ = writeln!(s, "    Updated: {}", self.json_to_sql.updated);
        let _ = writeln!(s, "    Skipped: {}", self.json_to_sql.skipped);
        s.push('\n');
        let _ = writeln!(s, "  SQL → JSON:");
        let _ = writeln!(s, "    Inserted: {}", self.sql_to_json.inserted);
        let _ = writeln!(s, "    Skipped: {}", self.sql_to_json.skipped);
        s.push('\n');
        let _ = writeln!(s, "  Conflicts: {}", self.conflicts.len());
        for c in &self.conflicts {
            let _ = writeln!(
                s,
                "    {}: json {} vs sql {} -> {}",
                c.natural_key,
                c.json_hash.short(),
                c.sql_hash.short(),
                c.resolution.as_str()
            );
        }
        let _ = writeln!(s, "  Errors: {}", self.errors.len());
        for e in &self.errors {
            let _ = writeln!(s, "    {e}");
        }
        if !self.warnings.is_empty() {
            let _ = writeln!(s, "  Warnings: {}", self.warnings.len());
            for w in &self.warnings {
                let _ = writeln!(s, "    {w}");
            }
        }
        s.push('\n');
        let _ = writeln!(s, "  JSON records: {}", self.json_record_count);
        let _ = write!(s, "  SQL records: {}", self.sql_record_count);
        s
    }

    /// The JSON report (full hashes, plus the reference's 16-character short form).
    pub fn to_json(&self) -> Value {
        let conflicts: Vec<Value> = self
            .conflicts
            .iter()
            .map(|c| {
                json!({
                    "natural_key": c.natural_key,
                    "source_system": c.source_system,
                    "entity_type": c.entity_type,
                    "json_hash": c.json_hash.to_hex(),
                    "sql_hash": c.sql_hash.to_hex(),
                    "json_hash_short": c.json_hash.short(),
                    "sql_hash_short": c.sql_hash.short(),
                    "json_exchange_id": c.json_exchange_id,
                    "sql_exchange_id": c.sql_exchange_id,
                    "resolution": c.resolution.as_str(),
                })
            })
            .collect();
        json!({
            "direction": self.direction.as_str(),
            "dry_run": self.dry_run,
            "started_at": crate::timestamp::reference_text(self.started_at),
            "completed_at": crate::timestamp::reference_text(self.completed_at),
            "json_to_sql": {
                "inserted": self.json_to_sql.inserted,
                "updated": self.json_to_sql.updated,
                "skipped": self.json_to_sql.skipped,
            },
            "sql_to_json": {
                "inserted": self.sql_to_json.inserted,
                "skipped": self.sql_to_json.skipped,
            },
            "conflicts": conflicts,
            "errors": self.errors,
            "warnings": self.warnings,
            "json_record_count": self.json_record_count,
            "sql_record_count": self.sql_record_count,
        })
    }
}
