//! Items 3, 8, 9, 10, 11: bounded input, the `add` envelope, duplicate ids and
//! import collisions, chunks that are not regular files, dry runs.

use std::path::Path;
use std::process::Command;

use serde_json::json;

use super::{BAD_INPUT, Home, TestResult, record, records};

fn mkfifo(path: &Path) -> TestResult {
    let ok = Command::new("mkfifo").arg(path).status()?.success();
    assert!(ok, "mkfifo {}", path.display());
    Ok(())
}

/// Item 3: a manifest that is a device, a FIFO or over 1 MiB; an `add` input
/// line without end (`/dev/zero`); a chunk line over the line limit; an archive
/// over `--max-archive-bytes` or a FIFO: each exit 2 naming the file and the
/// limit (or what the file is), without hanging or growing.
#[test]
fn every_input_has_a_limit() -> TestResult {
    let home = Home::new()?;
    for manifest in ["/dev/zero".to_owned(), {
        let fifo = home.path().join("fifo.json");
        mkfifo(&fifo)?;
        fifo.display().to_string()
    }] {
        let out = home.run(
            &["exchange", "verify", "--manifest", &manifest],
            &[],
            "",
            &[],
        )?;
        assert_eq!(out.code, BAD_INPUT, "{out:?}");
        assert!(out.stderr.contains("must be a regular file"), "{out:?}");
        assert!(out.stderr.contains(&manifest), "{out:?}");
    }
    let big = home.path().join("big/manifest.json");
    std::fs::create_dir_all(big.parent().ok_or("parent")?)?;
    std::fs::write(&big, vec![b' '; (1 << 20) + 1])?;
    let out = home.run(
        &["exchange", "verify", "--manifest", big.to_str().ok_or("p")?],
        &[],
        "",
        &[],
    )?;
    assert_eq!(out.code, BAD_INPUT, "{out:?}");
    assert!(
        out.stderr.contains("limit of 1048576 bytes")
            && out.stderr.contains("FABRIC_MAX_MANIFEST_BYTES"),
        "{out:?}"
    );

    // An endless line: the default limit, then a smaller one by flag.
    for extra in [
        vec!["/dev/zero"],
        vec!["--max-line-bytes", "100000", "/dev/zero"],
    ] {
        let out = home.add("", &extra)?;
        assert_eq!(out.code, BAD_INPUT, "{out:?}");
        let limit = if extra.len() == 1 {
            "268435456"
        } else {
            "100000"
        };
        assert!(
            out.stderr
                .contains("/dev/zero: input line 1 is larger than its limit of")
                && out.stderr.contains(limit),
            "{out:?}"
        );
    }

    // A chunk line over the limit, as verify and import read it.
    assert_eq!(home.add(&records(0, 2), &[])?.code, 0);
    let chunk = home.ds().join("records/2024/2024-03-01/chunk-0001.ndjson");
    let mut text = std::fs::read_to_string(&chunk)?;
    text.push_str(&"x".repeat(200_000));
    text.push('\n');
    std::fs::write(&chunk, text)?;
    let env = [("FABRIC_MAX_LINE_BYTES", "100000")];
    for cmd in ["verify", "import"] {
        let out = home.run(&["exchange", cmd, "--manifest", &home.m()], &[], "", &env)?;
        assert_eq!(out.code, BAD_INPUT, "{cmd}: {out:?}");
        assert!(
            out.stderr
                .contains("chunk-0001.ndjson: chunk line 3 is larger than its limit of 100000"),
            "{cmd}: {out:?}"
        );
    }

    // Archives: over the size given, and a FIFO.
    let zip = home.path().join("a.zip");
    std::fs::write(&zip, vec![0u8; 5000])?;
    let out_dir = home.path().join("out");
    let out = home.run(
        &[
            "exchange",
            "unpack",
            "--max-archive-bytes",
            "4000",
            "--in",
            zip.to_str().ok_or("p")?,
        ],
        &["--out", out_dir.to_str().ok_or("p")?],
        "",
        &[],
    )?;
    assert_eq!(out.code, BAD_INPUT, "{out:?}");
    assert!(
        out.stderr
            .contains("archive is larger than its limit of 4000"),
        "{out:?}"
    );
    let fifo = home.path().join("a-fifo.zip");
    mkfifo(&fifo)?;
    let out = home.run(
        &["exchange", "unpack", "--in", fifo.to_str().ok_or("p")?],
        &["--out", out_dir.to_str().ok_or("p")?],
        "",
        &[],
    )?;
    assert_eq!(out.code, BAD_INPUT, "{out:?}");
    assert!(
        out.stderr.contains("must be a regular file, not a FIFO"),
        "{out:?}"
    );
    assert!(!out_dir.exists());
    Ok(())
}

/// Item 9: a line that is not an envelope is refused naming the line; `--raw`
/// wraps any JSON value; equal content is counted as duplicates, not dropped.
#[test]
fn add_takes_envelopes_or_raw_payloads() -> TestResult {
    let home = Home::new()?;
    let out = home.add("{\"id\":1}\n{\"id\":2}\n", &[])?;
    assert_eq!(out.code, BAD_INPUT, "{out:?}");
    assert!(
        out.stderr
            .contains("line 1: bad record: not an envelope: neither a request nor a response key"),
        "{out:?}"
    );
    assert_eq!(home.verify()?, (0, 0), "nothing written");
    let out = home.run(
        &[
            "--json",
            "exchange",
            "add",
            "--raw",
            "--manifest",
            &home.m(),
        ],
        &[],
        "{\"id\":1}\n{\"id\":2}\n[1,2]\n\"text\"\n",
        &[],
    )?;
    assert_eq!(out.code, 0, "{out:?}");
    let v: serde_json::Value = serde_json::from_str(&out.stdout)?;
    assert_eq!(
        (v["added"].as_u64(), v["duplicates"].as_u64()),
        (Some(4), Some(0))
    );
    // The same record twice, and once more in a later batch.
    let twice = format!("{}\n{}\n", record(7), record(7));
    let out = home.run(
        &["--json", "exchange", "add", "--manifest", &home.m()],
        &[],
        &twice,
        &[],
    )?;
    assert_eq!(out.code, 0, "{out:?}");
    let v: serde_json::Value = serde_json::from_str(&out.stdout)?;
    assert_eq!(
        (v["added"].as_u64(), v["duplicates"].as_u64()),
        (Some(2), Some(1))
    );
    let out = home.add(&record(7), &[])?;
    assert!(out.stdout.contains("1 duplicate(s)"), "{out:?}");
    // 4 raw, 2 + 1 of record 7: every one written, each hash indexed once.
    assert_eq!(home.verify()?, (0, 7));
    Ok(())
}

/// Add writes chunks while it reads (one pass): a bad line after several full
/// chunks, or an id collision after them, still leaves every file as it was,
/// and the first problem in input order is the one named.
#[test]
fn a_late_bad_line_leaves_the_pack_as_it_was() -> TestResult {
    let home = Home::new()?;
    assert_eq!(home.add(&records(0, 3), &[])?.code, 0);
    // Every file but the writer lock (which names the last writer's process).
    let pack = || -> Result<super::Files, Box<dyn std::error::Error>> {
        let mut files = home.files()?;
        files.retain(|(name, _)| !name.ends_with(".writer.lock"));
        Ok(files)
    };
    let same = |a: &[(String, Vec<u8>)], b: &[(String, Vec<u8>)]| {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
    };
    let names = |a: &[(String, Vec<u8>)]| a.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    let before = pack()?;
    assert!(before.iter().any(|(n, _)| n.ends_with("chunk-0001.ndjson")));
    // 2,000 good lines (a worker batch is 512) in chunks of 7, then a bad one.
    let late = records(10, 2_000) + "{\"request\": nope}\n";
    let out = home.add(&late, &["--chunk-size", "7"])?;
    assert_eq!(out.code, BAD_INPUT, "{out:?}");
    assert!(out.stderr.contains("line 2001"), "{out:?}");
    let after = pack()?;
    assert!(same(&before, &after), "left behind: {:?}", names(&after));
    // An id collision at line 1,500, and a bad line after it: the collision,
    // which comes first, is the one reported.
    let mut lines: Vec<String> = records(10, 2_000).lines().map(String::from).collect();
    let mut v: serde_json::Value = serde_json::from_str(&lines[0])?;
    v["exchange_id"] = json!("00000000-0000-4000-8000-0000000000bb");
    lines[0] = v.to_string();
    v["natural_key"] = json!("other");
    lines[1_499] = v.to_string();
    lines[1_800] = "[1,".into();
    let out = home.add(&(lines.join("\n") + "\n"), &["--chunk-size", "7"])?;
    assert_eq!(out.code, BAD_INPUT, "{out:?}");
    assert!(
        out.stderr.contains("line 1500: bad record 00000000-0000-4000-8000-0000000000bb: exchange_id already used by - line 1"),
        "{out:?}"
    );
    let after = pack()?;
    assert!(same(&before, &after), "left behind: {:?}", names(&after));
    Ok(())
}

/// Item 8: one `exchange_id` with two contents is refused by `add` (in one
/// batch, and against the pack) and by `verify`; importing such a pack is exit 2
/// naming the pack lines, not exit 3.
#[test]
fn an_id_names_one_record() -> TestResult {
    let home = Home::new()?;
    let id = "00000000-0000-4000-8000-0000000000aa";
    let with_id = |n: usize| -> Result<String, serde_json::Error> {
        let mut v: serde_json::Value = serde_json::from_str(&record(n))?;
        v["exchange_id"] = json!(id);
        Ok(v.to_string() + "\n")
    };
    let out = home.add(&(with_id(1)? + &with_id(2)?), &[])?;
    assert_eq!(out.code, BAD_INPUT, "{out:?}");
    assert!(
        out.stderr.contains(&format!(
            "line 2: bad record {id}: exchange_id already used by - line 1"
        )),
        "{out:?}"
    );
    assert_eq!(home.add(&with_id(1)?, &[])?.code, 0);
    let out = home.add(&with_id(2)?, &[])?;
    assert_eq!(out.code, BAD_INPUT, "{out:?}");
    assert!(
        out.stderr.contains("already used by index.jsonl line 1"),
        "{out:?}"
    );

    // A pack that holds both anyway (two packs' files merged by hand).
    let other = Home::new()?;
    assert_eq!(other.add(&with_id(2)?, &[])?.code, 0);
    let from = other.ds().join("records/2024/2024-03-01/chunk-0001.ndjson");
    let to = home.ds().join("records/2024/2024-03-01/chunk-0002.ndjson");
    std::fs::copy(&from, &to)?;
    let index = std::fs::read_to_string(other.ds().join("index.jsonl"))?
        .replace("chunk-0001", "chunk-0002");
    let mut mine = std::fs::read_to_string(home.ds().join("index.jsonl"))?;
    mine.push_str(&index);
    std::fs::write(home.ds().join("index.jsonl"), mine)?;
    let out = home.run(
        &["exchange", "verify", "--manifest", &home.m()],
        &[],
        "",
        &[],
    )?;
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stdout.contains("[check 7]"), "{out:?}");
    assert!(out.stdout.contains("with different content"), "{out:?}");
    let out = home.run(
        &["exchange", "import", "--manifest", &home.m()],
        &[],
        "",
        &[],
    )?;
    assert_eq!(out.code, BAD_INPUT, "{out:?}");
    assert!(
        out.stderr.contains(&format!("record {id} (records/2024/2024-03-01/chunk-0001.ndjson line 1, records/2024/2024-03-01/chunk-0002.ndjson line 1) collides with")),
        "{out:?}"
    );
    Ok(())
}

/// Item 10: a chunk that is a FIFO, or a symbolic link to `/etc/passwd` or
/// `/dev/zero`, is exit 2 naming it (never skipped, never read).
#[test]
fn a_chunk_must_be_a_regular_file() -> TestResult {
    for kind in ["fifo", "/etc/passwd", "/dev/zero"] {
        let home = Home::new()?;
        assert_eq!(home.add(&records(0, 2), &[])?.code, 0);
        let odd = home.ds().join("records/2024/2024-03-01/chunk-0009.ndjson");
        if kind == "fifo" {
            mkfifo(&odd)?;
        } else {
            std::os::unix::fs::symlink(kind, &odd)?;
        }
        for cmd in ["import", "verify"] {
            let out = home.run(&["exchange", cmd, "--manifest", &home.m()], &[], "", &[])?;
            assert_eq!(out.code, BAD_INPUT, "{kind} {cmd}: {out:?}");
            assert!(
                out.stderr.contains("chunk-0009.ndjson"),
                "{kind} {cmd}: {out:?}"
            );
            let what = if kind == "fifo" {
                "a FIFO"
            } else {
                "a symbolic link"
            };
            assert!(out.stderr.contains(what), "{kind} {cmd}: {out:?}");
        }
    }
    Ok(())
}

/// Item 11: a dry run writes nothing anywhere: no store file, no lock file, no
/// change to the pack.
#[test]
fn a_dry_run_writes_nothing() -> TestResult {
    let home = Home::new()?;
    assert_eq!(home.add(&records(0, 3), &[])?.code, 0);
    // A pack that never had a lock file (made by another tool).
    match std::fs::remove_file(home.ds().join(".writer.lock")) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
        _ => {}
    }
    let before = home.files()?;
    let m = home.m();
    for args in [
        vec!["exchange", "import", "--dry-run", "--manifest", &m],
        vec!["exchange", "export", "--dry-run", "--manifest", &m],
        vec!["exchange", "sync", "--dry-run", "--manifest", &m],
        vec![
            "exchange",
            "schema",
            "--apply",
            "--dry-run",
            "--manifest",
            &m,
        ],
        vec!["exchange", "schema", "--print", "--manifest", &m],
    ] {
        let out = home.run(&args, &[], "", &[])?;
        // Export and `schema --apply` only read the store: a missing one is an
        // error there (a mistyped path is no empty store), never created.
        if !matches!(args[1], "export") && !args.contains(&"--apply") {
            assert_eq!(out.code, 0, "{args:?}: {out:?}");
        }
        assert!(!home.db().exists(), "{args:?} created the store");
        assert_eq!(home.files()?, before, "{args:?} wrote something");
    }
    let out = home.add(&records(10, 2), &["--dry-run"])?;
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(home.files()?, before, "add --dry-run wrote something");
    Ok(())
}

/// Item 3, the documents outside packs: a report, a scope or oracles file that
/// never ends (`/dev/zero`) is refused past FABRIC_MAX_INPUT_BYTES (default
/// 1 GiB), exit 2 naming the file and the limit.
#[test]
fn documents_have_a_limit() -> TestResult {
    let home = Home::new()?;
    let env = [("FABRIC_MAX_INPUT_BYTES", "1000000")];
    for args in [
        vec!["snapshot", "create", "--from-report", "/dev/zero"],
        vec![
            "dashboard",
            "assemble",
            "--scope",
            "/dev/zero",
            "--oracles",
            "/dev/zero",
        ],
    ] {
        let out = home.run(&args, &[], "", &env)?;
        assert_eq!(out.code, BAD_INPUT, "{args:?}: {out:?}");
        assert!(
            out.stderr.contains("/dev/zero: ")
                && out
                    .stderr
                    .contains("is larger than its limit of 1000000 bytes")
                && out.stderr.contains("FABRIC_MAX_INPUT_BYTES"),
            "{args:?}: {out:?}"
        );
    }
    Ok(())
}

/// A bundle that is a pipe is streamed, and refused once it passes
/// FABRIC_MAX_INPUT_BYTES, even while it is still valid JSON (exit 2, naming the
/// limit); a regular file is read whole whatever its size.
#[test]
fn a_streamed_bundle_has_a_limit() -> TestResult {
    let home = Home::new()?;
    let env = [("FABRIC_MAX_INPUT_BYTES", "1000000")];
    let endless_string = format!("{{\"format\":\"{}", "a".repeat(3_000_000));
    let out_zip = home.path().join("out.zip");
    let out_zip = out_zip.to_str().ok_or("path")?;
    let args = [
        "dashboard",
        "export",
        "--bundle",
        "/dev/stdin",
        "--out",
        out_zip,
    ];
    let out = home.run(&args, &[], &endless_string, &env)?;
    assert_eq!(out.code, BAD_INPUT, "{out:?}");
    assert!(
        out.stderr.contains("/dev/stdin: ")
            && out
                .stderr
                .contains("is larger than its limit of 1000000 bytes"),
        "{out:?}"
    );
    assert!(!std::path::Path::new(out_zip).exists());
    Ok(())
}

/// Item 10: `records` itself may not be a link out of the dataset folder.
#[test]
fn the_records_folder_must_be_a_folder() -> TestResult {
    let home = Home::new()?;
    let elsewhere = Home::new()?;
    assert_eq!(elsewhere.add(&records(0, 2), &[])?.code, 0);
    std::fs::remove_dir_all(home.ds().join("records"))?;
    std::os::unix::fs::symlink(elsewhere.ds().join("records"), home.ds().join("records"))?;
    let out = home.run(
        &["exchange", "import", "--manifest", &home.m()],
        &[],
        "",
        &[],
    )?;
    assert_eq!(out.code, BAD_INPUT, "{out:?}");
    assert!(
        out.stderr.contains(
            "the records folder must be a folder inside the dataset, not a symbolic link"
        ),
        "{out:?}"
    );
    Ok(())
}
