//! Hostile files through the real binary: every file-reading command refuses
//! 100,000-deep nesting, invalid UTF-8, a BOM and overflowing numbers with exit 2
//! naming the file, and writes nothing.

use std::path::Path;

use crate::common::{fabric, vectors};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const BAD_INPUT: i32 = 2;

fn hostile_files(dir: &Path) -> Result<Vec<(&'static str, std::path::PathBuf)>, std::io::Error> {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let mut bad_utf8 = br#"{"job_id": "x"#.to_vec();
    bad_utf8.extend([0xff, 0xfe]);
    bad_utf8.extend(br#"", "final_status": "COMPLETED"}"#);
    let files: Vec<(&'static str, Vec<u8>)> = vec![
        ("deep.json", deep.into_bytes()),
        ("bad-utf8.json", bad_utf8),
        ("bom.json", b"\xEF\xBB\xBF{}".to_vec()),
        ("nul.json", b"{}\0".to_vec()),
        ("overflow.json", br#"{"n": 1e999}"#.to_vec()),
    ];
    let mut out = Vec::new();
    for (name, bytes) in files {
        let path = dir.join(name);
        std::fs::write(&path, bytes)?;
        out.push((name, path));
    }
    Ok(out)
}

#[test]
fn file_reading_commands_refuse_hostile_files_naming_them() -> TestResult {
    let home = tempfile::tempdir()?;
    let db = home.path().join("store").join("fabric.db");
    let scope = vectors().join("dashboard/example/scope.json");
    let oracles = vectors().join("dashboard/example/oracles.json");
    for (name, path) in hostile_files(home.path())? {
        let p = path.display().to_string();
        let s = scope.display().to_string();
        let o = oracles.display().to_string();
        let mut commands: Vec<Vec<&str>> = vec![
            vec!["ingest", &p],
            vec!["snapshot", "create", "--save", "--from-report", &p],
            vec!["diff", &p, &p],
            vec!["dashboard", "assemble", "--scope", &p, "--oracles", &o],
            vec!["dashboard", "assemble", "--scope", &s, "--oracles", &p],
        ];
        if name == "overflow.json" {
            // A valid JSON object: an ingest refuses it for its missing keys (exit 2
            // too), a report snapshot for its number.
            commands.push(vec!["snapshot", "create", "--from-report", &p]);
        }
        for args in commands {
            let out = fabric(home.path())
                .arg("--db")
                .arg(&db)
                .args(&args)
                .output()?;
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(
                out.status.code(),
                Some(BAD_INPUT),
                "{name} {args:?}: {stderr}"
            );
            assert!(stderr.contains(name), "{name} {args:?}: {stderr}");
            assert!(!db.exists(), "{name} {args:?} wrote the store");
        }
    }
    Ok(())
}
