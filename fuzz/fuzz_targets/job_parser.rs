//! The JobExecutionResult parser: any bytes, never a panic; an accepted job has a
//! non-empty id.
#![no_main]

use fabric_core::ingest::parse_job;
use fabric_core::timestamp::Timestamp;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let at = Timestamp::from_utc(time::OffsetDateTime::UNIX_EPOCH);
    if let Ok(job) = parse_job("fuzz.json", data, at, "/work") {
        assert!(!job.job_id.is_empty());
    }
});

