//! The job rows of the crash table: `fabric ingest` of a second batch over a
//! store holding the first, and `fabric snapshot create --save` onto a chain.

use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, Stdio};

use super::util::*;
use super::{Env, Options};

/// Two batches from gen_corpus.py; the template store holds batch 1, the killed
/// command ingests batch 2 (which replaces some of batch 1's jobs).
pub(super) fn ingest_prepare(env: &Env, opts: &Options) -> Result<(), String> {
    gen_corpus(opts, &env.inputs.join("corpus"), &["--batches", "2"])?;
    let out = fabric(
        env,
        &["ingest".into(), env.inputs.join("corpus/batch-01").into()],
    )?;
    expect_success(&out, "ingest batch-01")
}

pub(super) fn ingest_args(env: &Env) -> Vec<OsString> {
    vec!["ingest".into(), env.inputs.join("corpus/batch-02").into()]
}

/// The report minus `generated_at`, and the job ids: all of the store's jobs.
pub(super) fn report_state(env: &Env) -> Result<Vec<String>, String> {
    let jobs = fabric(env, &["jobs".into()])?;
    expect_success(&jobs, "jobs")?;
    Ok(vec![format!(
        "jobs: {}\n{}",
        String::from_utf8_lossy(&jobs.stdout).lines().count(),
        report_json(env)?
    )])
}

pub(super) fn ingest_result(env: &Env, _stdout: &[u8]) -> Result<String, String> {
    report_json(env)
}

/// A store with a corpus (a large report) and one saved snapshot; the killed
/// command saves version 2.
pub(super) fn snapshot_prepare(env: &Env, opts: &Options) -> Result<(), String> {
    gen_corpus(opts, &env.inputs.join("corpus"), &[])?;
    let out = fabric(env, &["ingest".into(), env.inputs.join("corpus").into()])?;
    expect_success(&out, "ingest")?;
    let out = fabric(env, &snapshot_args(env))?;
    expect_success(&out, "snapshot create --save")
}

pub(super) fn snapshot_args(_env: &Env) -> Vec<OsString> {
    vec!["snapshot".into(), "create".into(), "--save".into()]
}

/// The chain's version count, active version and the active payload's snapshot id;
/// `snapshot verify` must pass.
pub(super) fn chain_state(env: &Env) -> Result<String, String> {
    let verify = fabric(env, &["snapshot".into(), "verify".into()])?;
    expect_success(&verify, "snapshot verify")?;
    let show = fabric(
        env,
        &[
            "--json".into(),
            "snapshot".into(),
            "show".into(),
            "fabric".into(),
        ],
    )?;
    expect_success(&show, "snapshot show")?;
    let doc = json(&show.stdout, "snapshot show")?;
    Ok(format!(
        "version {} active {} snapshot_id {}",
        doc["version"], doc["is_active"], doc["payload"]["snapshot_id"]
    ))
}

pub(super) fn snapshot_result(env: &Env, stdout: &[u8]) -> Result<String, String> {
    let doc = json(stdout, "snapshot create")?;
    Ok(format!("{} / {}", doc["snapshot_id"], chain_state(env)?))
}

// ---- plumbing -------------------------------------------------------------------

pub(super) fn gen_corpus(opts: &Options, out: &Path, extra: &[&str]) -> Result<(), String> {
    let status = Command::new("python3")
        .arg(opts.vectors.join("fabric/gen_corpus.py"))
        .args(["--seed", "7", "--jobs", &opts.jobs.to_string()])
        .args(extra)
        .arg("--out")
        .arg(out)
        .stdout(Stdio::null())
        .status()
        .map_err(|e| format!("python3 gen_corpus.py: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("gen_corpus.py failed: {status}"))
    }
}

pub(super) fn report_json(env: &Env) -> Result<String, String> {
    let out = fabric(env, &["report".into(), "--format".into(), "json".into()])?;
    expect_success(&out, "report")?;
    let mut doc = json(&out.stdout, "report")?;
    if let Some(map) = doc.as_object_mut() {
        map.remove("generated_at");
    }
    serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())
}
