//! The operator report computed from the store: every job's report columns,
//! streamed in store order into fabric-core's `ReportBuilder` (no outputs read,
//! memory flat in the number of jobs).

use fabric_core::report::{DeterminismMode, FabricReport, JobFacts, ReportBuilder};

use crate::error::Result;
use crate::jobs::JobRow;
use crate::store::Store;

impl JobRow {
    /// The facts of this row a report needs, borrowed.
    pub fn facts(&self) -> JobFacts<'_> {
        JobFacts {
            job_id: &self.job_id,
            final_status: self.final_status,
            canonical_proxy_profile: self.canonical_proxy_profile.as_deref(),
            fingerprint: self.fingerprint.as_deref(),
            engine_used: self.engine_used.as_deref(),
            validation_error: self.validation_error.as_deref(),
            completed_clips: self.completed_clips,
            failed_clips: self.failed_clips,
        }
    }
}

impl Store {
    /// The report over every stored job, in store order, non-determinism found
    /// under `mode`.
    pub fn report(&self, mode: DeterminismMode) -> Result<FabricReport> {
        let builder = self.fold_job_rows(
            || ReportBuilder::with_mode(mode),
            |builder, row| builder.push(row.facts()),
        )?;
        Ok(builder.finish())
    }
}

#[cfg(test)]
mod tests {
    use fabric_core::index::FabricIndex;
    use fabric_core::ingest::parse_job;
    use fabric_core::report::{DeterminismMode, FabricReport};
    use fabric_core::timestamp::Timestamp;

    use crate::Store;

    /// The report from the store equals the report over the same jobs in memory,
    /// field for field (a field the copy dropped would differ here).
    #[test]
    fn the_store_report_equals_the_in_memory_report() -> Result<(), Box<dyn std::error::Error>> {
        let now = Timestamp::parse("2025-03-02T00:00:00Z")?;
        let docs = [
            r#"{"job_id": "a", "final_status": "FAILED", "started_at": "2025-03-01T08:00:00Z", "clips": [],
                "validation_error": "bad codec", "_metadata": {"engine_used": "ffmpeg", "proxy_profile_used": "p1", "fingerprint": "f1"}}"#,
            r#"{"job_id": "b", "final_status": "COMPLETED", "started_at": "2025-03-01T09:00:00Z",
                "clips": [{"source_path": "a.mov", "resolved_output_path": "/p/a.mov", "status": "COMPLETED"}],
                "_metadata": {"engine_used": "resolve", "proxy_profile_used": "p1", "fingerprint": "f1"}}"#,
        ];
        let jobs = docs
            .iter()
            .enumerate()
            .map(|(i, d)| parse_job(&format!("{i}.json"), d.as_bytes(), now, "/srv"))
            .collect::<Result<Vec<_>, _>>()?;
        let dir = tempfile::tempdir()?;
        let mut store = Store::open(dir.path().join("f.db"))?;
        let mut batch = store.begin_jobs()?;
        for job in &jobs {
            batch.put(job)?;
        }
        batch.commit()?;
        let from_store = store.report(DeterminismMode::Reference)?;
        let in_memory = FabricReport::from_index(&FabricIndex::from_jobs(jobs));
        assert_eq!(from_store.export_text(), in_memory.export_text());
        assert_eq!(
            from_store.export_json(&now).to_string(),
            in_memory.export_json(&now).to_string()
        );
        Ok(())
    }
}
