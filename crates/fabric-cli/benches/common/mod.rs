//! What the timed harnesses of this crate share: a store of synthetic jobs.

use std::path::Path;

use fabric_core::model::{ClipStatus, FinalStatus, IngestedJob, IngestedOutput};
use fabric_core::timestamp::Timestamp;

/// Write `n` synthetic jobs (two outputs each, realistic mix) straight through the
/// store API, in batches.
pub fn fill_store(db: &Path, n: usize) -> Result<(), Box<dyn std::error::Error>> {
    let mut store = fabric_store::Store::open(db)?;
    let at = Timestamp::parse("2026-01-01T00:00:00+00:00")?;
    let engines = ["ffmpeg", "resolve", "ffmpeg_nvenc"];
    let profiles = [
        "proxy_prores_proxy",
        "proxy_h264_low",
        "resolve_prores",
        "proxy_dnxhr_lb",
    ];
    let reasons = ["decode error", "timeout", "render failed", "disk full"];
    let mut batch = store.begin_jobs()?;
    for i in 0..n {
        let status = match i % 10 {
            0 => FinalStatus::Failed,
            1 => FinalStatus::Partial,
            _ => FinalStatus::Completed,
        };
        let job_id = format!("job-{i:08}");
        let outputs = (0..2)
            .map(|c| IngestedOutput {
                job_id: job_id.clone(),
                clip_id: format!("{:016x}", i * 2 + c),
                source_path: format!("/srv/ingest/incoming/clip-{i}-{c}.mov"),
                output_path: format!("/srv/proxies/clip-{i}-{c}.mov"),
                output_exists: true,
                output_size_bytes: Some(1_000_000 + i as i64),
                status: ClipStatus::Completed,
                failure_reason: None,
                engine_used: Some(engines[i % 3].to_owned()),
                proxy_profile_used: Some(profiles[i % 4].to_owned()),
                resolve_preset_used: None,
            })
            .collect();
        batch.put(&IngestedJob {
            job_id,
            final_status: status,
            started_at: at,
            canonical_proxy_profile: Some(profiles[i % 4].to_owned()),
            fingerprint: (i % 7 == 0).then(|| format!("fp-{}", i % 5_000)),
            validation_stage: None,
            validation_error: status.is_failure().then(|| reasons[i % 4].to_owned()),
            engine_used: Some(engines[i % 3].to_owned()),
            resolve_preset_used: None,
            jobspec_version: Some("2".to_owned()),
            completed_at: Some(at),
            ingested_at: at,
            total_clips: 2,
            completed_clips: if status.is_failure() { 1 } else { 2 },
            failed_clips: i64::from(status.is_failure()),
            outputs,
        })?;
    }
    batch.commit()?;
    Ok(())
}
