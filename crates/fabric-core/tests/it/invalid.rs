//! Every file of `tests/vectors/fabric/invalid` is rejected, naming the file.

use std::fs;

use fabric_core::Error;
use fabric_core::ingest::parse_job;

use crate::common::{TestResult, ingested_at, vectors};

#[test]
fn every_invalid_file_is_rejected_naming_the_file() -> TestResult {
    let dir = vectors().join("invalid");
    let reasons: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(dir.join("reasons.json"))?)?;
    let reasons = reasons.as_object().ok_or("reasons.json is an object")?;
    let mut names: Vec<String> = fs::read_dir(&dir)?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_, _>>()?;
    names.retain(|n| n != "reasons.json");
    names.sort();
    assert_eq!(names.len(), reasons.len(), "one reason per invalid file");
    let mut messages = Vec::new();
    for name in names {
        let bytes = fs::read(dir.join(&name))?;
        let err = match parse_job(&name, &bytes, ingested_at(0), "/work") {
            Err(err) => err,
            Ok(job) => return Err(format!("{name}: accepted as {}", job.job_id).into()),
        };
        assert!(
            matches!(&err, Error::Ingest { file, .. } if file == &name),
            "{name}: wrong error {err:?}"
        );
        assert!(err.to_string().contains(&name), "{err}");
        messages.push(chain(&err));
    }
    insta::assert_snapshot!("invalid_messages", messages.join("\n"));
    Ok(())
}

/// The error and its sources, one per line, as the CLI prints them.
fn chain(err: &dyn std::error::Error) -> String {
    let mut out = format!("error: {err}");
    let mut source = err.source();
    while let Some(cause) = source {
        out.push_str(&format!("\n  caused by: {cause}"));
        source = cause.source();
    }
    out
}
