//! The `jobs` table: batch ingestion and reading back in store order.
//!
//! Store order is `ingested_at` ascending, ties by `rowid` (write order): a
//! re-ingested job gets a new row and so moves to the end.

use fabric_core::ingest::{outputs_from_json, outputs_to_json};
use fabric_core::model::{FinalStatus, IngestedJob};
use fabric_core::timestamp::Timestamp;
use rusqlite::{OptionalExtension, Row, TransactionBehavior, params};

use crate::error::{Error, Result};
use crate::store::Store;

/// What one ingest batch did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchSummary {
    /// Jobs whose id was new to the store (and to the batch).
    pub inserted: usize,
    /// Jobs whose id was already stored, or appeared earlier in the same batch.
    pub replaced: usize,
}

/// The columns the report needs: everything but the outputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRow {
    /// `job_id`.
    pub job_id: String,
    /// `final_status`.
    pub final_status: FinalStatus,
    /// `canonical_proxy_profile`.
    pub canonical_proxy_profile: Option<String>,
    /// `fingerprint`.
    pub fingerprint: Option<String>,
    /// `engine_used`.
    pub engine_used: Option<String>,
    /// `validation_error`.
    pub validation_error: Option<String>,
    /// `completed_clips`.
    pub completed_clips: i64,
    /// `failed_clips`.
    pub failed_clips: i64,
}

const UPSERT: &str = "INSERT OR REPLACE INTO jobs (job_id, final_status, started_at, \
    canonical_proxy_profile, fingerprint, validation_stage, validation_error, engine_used, \
    resolve_preset_used, jobspec_version, completed_at, ingested_at, total_clips, \
    completed_clips, failed_clips, outputs_json) \
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)";

const ALL_COLUMNS: &str = "job_id, final_status, started_at, canonical_proxy_profile, \
    fingerprint, validation_stage, validation_error, engine_used, resolve_preset_used, \
    jobspec_version, completed_at, ingested_at, total_clips, completed_clips, failed_clips, \
    outputs_json";

const STORE_ORDER: &str = "ORDER BY ingested_at ASC, rowid ASC";

/// The order a pass over the jobs reads them in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RowOrder {
    /// `rowid`: no sort; store order while `ingested_at` never goes down.
    Written,
    /// `ingested_at, rowid`: store order always (SQLite sorts: memory grows).
    Store,
}

/// One open ingest batch: a single write transaction. Dropping it without
/// [`JobBatch::commit`] rolls everything back.
#[derive(Debug)]
pub struct JobBatch<'s> {
    tx: rusqlite::Transaction<'s>,
    path: crate::error::At<'s>,
    summary: BatchSummary,
    /// The highest rowid before the batch: the batch's rows are the ones above it
    /// (a replaced job gets a new, higher rowid).
    rowid_before: i64,
    /// The distinct ids written, for the read-back before commit.
    written: std::collections::HashSet<String>,
}

impl Store {
    /// Begin an ingest batch (`BEGIN IMMEDIATE`: the write lock is taken now, so a
    /// concurrent writer fails here, before any work, after the busy timeout).
    pub fn begin_jobs(&mut self) -> Result<JobBatch<'_>> {
        let (conn, path) = self.conn_and_path();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| path.err("starting the ingest transaction", e))?;
        let rowid_before = tx
            .query_row("SELECT coalesce(max(rowid), 0) FROM jobs", [], |row| {
                row.get(0)
            })
            .map_err(|e| path.err("starting the ingest transaction", e))?;
        Ok(JobBatch {
            tx,
            path,
            summary: BatchSummary::default(),
            rowid_before,
            written: std::collections::HashSet::new(),
        })
    }

    /// Number of stored jobs.
    pub fn job_count(&self) -> Result<u64> {
        self.conn()
            .query_row("SELECT count(*) FROM jobs", [], |row| row.get::<_, i64>(0))
            .map(|n| n.max(0) as u64)
            .map_err(|e| self.err("counting jobs", e))
    }

    /// One job with its outputs, or `None`.
    pub fn job(&self, job_id: &str) -> Result<Option<IngestedJob>> {
        let sql = format!("SELECT {ALL_COLUMNS} FROM jobs WHERE job_id = ?1");
        let raw = self
            .conn()
            .query_row(&sql, [job_id], RawJob::from_row)
            .optional()
            .map_err(|e| self.err(format!("reading job {job_id}"), e))?;
        raw.map(|r| r.into_job(self.path())).transpose()
    }

    /// Every job with its outputs, in store order.
    pub fn jobs(&self) -> Result<Vec<IngestedJob>> {
        let mut out = Vec::new();
        self.for_each_job(|job| {
            out.push(job);
            Ok(())
        })?;
        Ok(out)
    }

    /// Visit every job with its outputs, in store order, without holding them all.
    pub fn for_each_job(&self, mut visit: impl FnMut(IngestedJob) -> Result<()>) -> Result<()> {
        let sql = format!("SELECT {ALL_COLUMNS} FROM jobs {STORE_ORDER}");
        let mut stmt = self
            .conn()
            .prepare(&sql)
            .map_err(|e| self.err("reading jobs", e))?;
        let mut rows = stmt.query([]).map_err(|e| self.err("reading jobs", e))?;
        while let Some(row) = rows.next().map_err(|e| self.err("reading jobs", e))? {
            let raw = RawJob::from_row(row).map_err(|e| self.err("reading jobs", e))?;
            visit(raw.into_job(self.path())?)?;
        }
        Ok(())
    }

    /// Fold the report columns of every job in store order into a state made by
    /// `init`: no outputs are read or parsed, nothing is sorted, and memory stays
    /// flat however many jobs are stored.
    ///
    /// Rows are read in rowid (write) order, which is store order as long as
    /// `ingested_at` never goes down from one row to the next (each ingest writes
    /// later times at higher rowids). The first row that breaks it starts the fold
    /// again from `init()` over `ORDER BY ingested_at, rowid`, so the answer is
    /// store order's whatever the file holds.
    pub fn fold_job_rows<S>(
        &self,
        init: impl Fn() -> S,
        mut step: impl FnMut(&mut S, &JobRow),
    ) -> Result<S> {
        let mut state = init();
        if self.scan_job_rows(RowOrder::Written, &mut state, &mut step)? {
            return Ok(state);
        }
        let mut state = init();
        self.scan_job_rows(RowOrder::Store, &mut state, &mut step)?;
        Ok(state)
    }

    /// One pass over the report columns in `order`; `false` when `order` is
    /// [`RowOrder::Written`] and a row's `ingested_at` went down (the pass stops
    /// there: the caller starts again in [`RowOrder::Store`]).
    fn scan_job_rows<S>(
        &self,
        order: RowOrder,
        state: &mut S,
        step: &mut impl FnMut(&mut S, &JobRow),
    ) -> Result<bool> {
        let sql = format!(
            "SELECT job_id, final_status, canonical_proxy_profile, fingerprint, engine_used, \
             validation_error, completed_clips, failed_clips, ingested_at FROM jobs {}",
            match order {
                RowOrder::Written => "ORDER BY rowid ASC",
                RowOrder::Store => STORE_ORDER,
            }
        );
        let mut stmt = self
            .conn()
            .prepare(&sql)
            .map_err(|e| self.err("reading jobs", e))?;
        let mut rows = stmt.query([]).map_err(|e| self.err("reading jobs", e))?;
        let mut last_time: Vec<u8> = Vec::new();
        while let Some(row) = rows.next().map_err(|e| self.err("reading jobs", e))? {
            if order == RowOrder::Written {
                // ORDER BY compares TEXT with the BINARY collation: bytes, as here.
                // A value of another type sorts by other rules: let SQLite sort.
                let value = row.get_ref(8).map_err(|e| self.err("reading jobs", e))?;
                let rusqlite::types::ValueRef::Text(time) = value else {
                    return Ok(false);
                };
                if time < last_time.as_slice() {
                    return Ok(false);
                }
                last_time.clear();
                last_time.extend_from_slice(time);
            }
            let job_id: String = row.get(0).map_err(|e| self.err("reading jobs", e))?;
            let status: String = row.get(1).map_err(|e| self.err("reading jobs", e))?;
            let final_status = FinalStatus::parse(&status).ok_or_else(|| Error::BadRow {
                path: self.path().to_path_buf(),
                row: format!("jobs/{job_id}"),
                reason: format!("final_status {status:?} is not COMPLETED, FAILED or PARTIAL"),
            })?;
            let get = |i| -> Result<Option<String>> {
                row.get(i).map_err(|e| self.err("reading jobs", e))
            };
            let job = JobRow {
                final_status,
                canonical_proxy_profile: get(2)?,
                fingerprint: get(3)?,
                engine_used: get(4)?,
                validation_error: get(5)?,
                completed_clips: row.get(6).map_err(|e| self.err("reading jobs", e))?,
                failed_clips: row.get(7).map_err(|e| self.err("reading jobs", e))?,
                job_id,
            };
            step(state, &job);
        }
        Ok(true)
    }

    fn conn_and_path(&mut self) -> (&mut rusqlite::Connection, crate::error::At<'_>) {
        self.split()
    }
}

impl JobBatch<'_> {
    /// Write one job (replacing a stored job with the same id).
    pub fn put(&mut self, job: &IngestedJob) -> Result<()> {
        let err = |e| self.path.err(format!("writing job {}", job.job_id), e);
        let existed = self
            .tx
            .prepare_cached("SELECT 1 FROM jobs WHERE job_id = ?1")
            .and_then(|mut s| s.exists([&job.job_id]))
            .map_err(err)?;
        let mut stmt = self.tx.prepare_cached(UPSERT).map_err(err)?;
        stmt.execute(params![
            job.job_id,
            job.final_status.as_str(),
            job.started_at.to_string(),
            job.canonical_proxy_profile,
            job.fingerprint,
            job.validation_stage,
            job.validation_error,
            job.engine_used,
            job.resolve_preset_used,
            job.jobspec_version,
            job.completed_at.as_ref().map(ToString::to_string),
            job.ingested_at.to_string(),
            job.total_clips,
            job.completed_clips,
            job.failed_clips,
            outputs_to_json(&job.outputs),
        ])
        .map_err(err)?;
        if !self.written.contains(&job.job_id) {
            self.written.insert(job.job_id.clone());
        }
        if existed {
            self.summary.replaced += 1;
        } else {
            self.summary.inserted += 1;
        }
        Ok(())
    }

    /// What the batch has written so far.
    pub fn summary(&self) -> BatchSummary {
        self.summary
    }

    /// Read back what the batch wrote, then commit it.
    ///
    /// The read-back walks the batch's rows (and only those: the rowids above the
    /// ones before the batch), so every table page the batch wrote is read and
    /// checked by SQLite again, and a row lost or doubled on the way is
    /// [`Error::Corrupt`] before anything is committed. Its cost is that of the
    /// batch, whatever the size of the store.
    pub fn commit(self) -> Result<BatchSummary> {
        let path = self.path;
        let rows: i64 = self
            .tx
            .query_row(
                "SELECT count(*) FROM jobs WHERE rowid > ?1 AND length(outputs_json) >= 0",
                [self.rowid_before],
                |row| row.get(0),
            )
            .map_err(|e| path.err("reading back the ingest batch", e))?;
        if usize::try_from(rows).ok() != Some(self.written.len()) {
            return Err(Error::Corrupt {
                path: path.path().to_path_buf(),
                detail: format!(
                    "the ingest batch wrote {} jobs but {rows} read back",
                    self.written.len()
                ),
            });
        }
        self.tx
            .commit()
            .map_err(|e| path.err("committing the ingest batch", e))?;
        Ok(self.summary)
    }
}

/// A `jobs` row as stored, before its text columns are parsed.
struct RawJob {
    job_id: String,
    final_status: String,
    started_at: String,
    canonical_proxy_profile: Option<String>,
    fingerprint: Option<String>,
    validation_stage: Option<String>,
    validation_error: Option<String>,
    engine_used: Option<String>,
    resolve_preset_used: Option<String>,
    jobspec_version: Option<String>,
    completed_at: Option<String>,
    ingested_at: String,
    total_clips: i64,
    completed_clips: i64,
    failed_clips: i64,
    outputs_json: String,
}

impl RawJob {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(RawJob {
            job_id: row.get(0)?,
            final_status: row.get(1)?,
            started_at: row.get(2)?,
            canonical_proxy_profile: row.get(3)?,
            fingerprint: row.get(4)?,
            validation_stage: row.get(5)?,
            validation_error: row.get(6)?,
            engine_used: row.get(7)?,
            resolve_preset_used: row.get(8)?,
            jobspec_version: row.get(9)?,
            completed_at: row.get(10)?,
            ingested_at: row.get(11)?,
            total_clips: row.get(12)?,
            completed_clips: row.get(13)?,
            failed_clips: row.get(14)?,
            outputs_json: row.get(15)?,
        })
    }

    fn into_job(self, path: &std::path::Path) -> Result<IngestedJob> {
        let bad = |reason: String| Error::BadRow {
            path: path.to_path_buf(),
            row: format!("jobs/{}", self.job_id),
            reason,
        };
        let time = |column: &str, text: &str| {
            Timestamp::parse(text).map_err(|e| bad(format!("{column} {text:?}: {e}")))
        };
        let final_status = FinalStatus::parse(&self.final_status).ok_or_else(|| {
            bad(format!(
                "final_status {:?} is not COMPLETED, FAILED or PARTIAL",
                self.final_status
            ))
        })?;
        let started_at = time("started_at", &self.started_at)?;
        let completed_at = match self.completed_at.as_deref() {
            None | Some("") => None,
            Some(text) => Some(time("completed_at", text)?),
        };
        let ingested_at = time("ingested_at", &self.ingested_at)?;
        let outputs = outputs_from_json(&self.job_id, &self.outputs_json)
            .map_err(|e| bad(format!("outputs_json: {e}")))?;
        Ok(IngestedJob {
            job_id: self.job_id,
            final_status,
            started_at,
            canonical_proxy_profile: self.canonical_proxy_profile,
            fingerprint: self.fingerprint,
            validation_stage: self.validation_stage,
            validation_error: self.validation_error,
            engine_used: self.engine_used,
            resolve_preset_used: self.resolve_preset_used,
            jobspec_version: self.jobspec_version,
            completed_at,
            ingested_at,
            total_clips: self.total_clips,
            completed_clips: self.completed_clips,
            failed_clips: self.failed_clips,
            outputs,
        })
    }
}

#[cfg(test)]
mod tests {
    use fabric_core::model::{FinalStatus, IngestedJob};
    use fabric_core::timestamp::Timestamp;

    use crate::Store;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    fn job(id: &str, at: &str) -> Result<IngestedJob, Box<dyn std::error::Error>> {
        let at = Timestamp::parse(at)?;
        Ok(IngestedJob {
            job_id: id.to_owned(),
            final_status: FinalStatus::Completed,
            started_at: at,
            canonical_proxy_profile: None,
            fingerprint: None,
            validation_stage: None,
            validation_error: None,
            engine_used: None,
            resolve_preset_used: None,
            jobspec_version: None,
            completed_at: None,
            ingested_at: at,
            total_clips: 0,
            completed_clips: 0,
            failed_clips: 0,
            outputs: Vec::new(),
        })
    }

    /// The ids in the order `fold_job_rows` visits them, and in store order as
    /// SQLite sorts it.
    fn both_orders(
        store: &Store,
    ) -> Result<(Vec<String>, Vec<String>), Box<dyn std::error::Error>> {
        let folded = store.fold_job_rows(Vec::new, |ids, row| ids.push(row.job_id.clone()))?;
        let mut stmt = store
            .conn()
            .prepare(&format!("SELECT job_id FROM jobs {}", super::STORE_ORDER))?;
        let sorted = stmt
            .query_map([], |row| row.get(0))?
            .collect::<rusqlite::Result<Vec<String>>>()?;
        Ok((folded, sorted))
    }

    /// Written in time order: the rowid pass is store order and is kept.
    #[test]
    fn rows_written_in_time_order_fold_in_store_order() -> TestResult {
        let dir = tempfile::tempdir()?;
        let mut store = Store::open(dir.path().join("f.db"))?;
        let jobs = [
            job("b", "2026-01-01T00:00:00+00:00")?,
            job("a", "2026-01-01T00:00:00+00:00")?,
            job("c", "2026-01-02T00:00:00+00:00")?,
        ];
        let mut batch = store.begin_jobs()?;
        for j in &jobs {
            batch.put(j)?;
        }
        batch.commit()?;
        let (folded, sorted) = both_orders(&store)?;
        assert_eq!(folded, ["b", "a", "c"]);
        assert_eq!(folded, sorted);
        Ok(())
    }

    /// A later row with an earlier time (a clock set back, a file from another
    /// system): the fold starts again in store order and sees each job once.
    #[test]
    fn a_time_going_down_folds_in_store_order() -> TestResult {
        let dir = tempfile::tempdir()?;
        let mut store = Store::open(dir.path().join("f.db"))?;
        let jobs = [
            job("late", "2026-03-01T00:00:00+00:00")?,
            job("mid", "2026-02-01T00:00:00+00:00")?,
            job("early", "2026-01-01T00:00:00+00:00")?,
            job("last", "2026-04-01T00:00:00+00:00")?,
        ];
        let mut batch = store.begin_jobs()?;
        for j in &jobs {
            batch.put(j)?;
        }
        batch.commit()?;
        let (folded, sorted) = both_orders(&store)?;
        assert_eq!(folded, ["early", "mid", "late", "last"]);
        assert_eq!(folded, sorted);
        Ok(())
    }
}
