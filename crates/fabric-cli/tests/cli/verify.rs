//! `fabric exchange verify` on a pack larger than one worker batch: the findings
//! come out in file and line order, whichever core checked which line.

use crate::common::fabric;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Records in the pack: several batches of the parallel check.
const RECORDS: usize = 2_000;

#[test]
fn findings_keep_line_order_across_workers() -> TestResult {
    let home = tempfile::tempdir()?;
    let out = home.path().join("packs");
    fabric(home.path())
        .args([
            "exchange", "init", "--name", "big", "--source", "src", "--entity", "e",
        ])
        .args(["--type", "http", "--out"])
        .arg(&out)
        .assert()
        .success();
    let manifest = out.join("big/manifest.json");
    let input: String = (0..RECORDS)
        .map(|i| {
            format!(
                "{{\"natural_key\": \"k{i}\", \"response\": {{\"n\": {i}, \"text\": \"v{i}\"}}, \
                 \"observed_at_utc\": \"2024-03-01T10:00:00Z\"}}\n"
            )
        })
        .collect();
    let input_path = home.path().join("in.ndjson");
    std::fs::write(&input_path, input)?;
    fabric(home.path())
        .args(["exchange", "add", "--manifest"])
        .arg(&manifest)
        .arg(&input_path)
        .assert()
        .success();
    // Tamper with every 97th record of every chunk (its content, not its hash).
    let mut tampered = 0;
    let records = out.join("big/records");
    let mut chunks: Vec<_> = walk(&records)?;
    chunks.sort();
    for chunk in &chunks {
        let text = std::fs::read_to_string(chunk)?;
        let lines: Vec<String> = text
            .lines()
            .enumerate()
            .map(|(i, line)| {
                if i % 97 == 3 {
                    tampered += 1;
                    line.replacen("\"v", "\"w", 1)
                } else {
                    line.to_owned()
                }
            })
            .collect();
        std::fs::write(chunk, lines.join("\n") + "\n")?;
    }
    let run = fabric(home.path())
        .args(["--json", "exchange", "verify", "--manifest"])
        .arg(&manifest)
        .output()?;
    assert_eq!(run.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&run.stdout)?;
    assert_eq!(report["records"], RECORDS);
    let failures = report["failures"].as_array().ok_or("no failures")?;
    assert_eq!(failures.len(), tampered, "{report}");
    let places: Vec<(String, u64)> = failures
        .iter()
        .map(|f| {
            (
                f["file"].as_str().unwrap_or_default().to_owned(),
                f["line"].as_u64().unwrap_or_default(),
            )
        })
        .collect();
    let mut sorted = places.clone();
    sorted.sort();
    assert_eq!(places, sorted, "findings out of order");
    assert!(
        tampered > RECORDS / 256,
        "findings in every batch: {tampered}"
    );
    Ok(())
}

fn walk(dir: &std::path::Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            files.extend(walk(&path)?);
        } else if path.extension().is_some_and(|e| e == "ndjson") {
            files.push(path);
        }
    }
    Ok(files)
}
