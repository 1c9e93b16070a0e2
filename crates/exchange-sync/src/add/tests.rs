use proptest::prelude::*;

use super::*;

/// Ids are lowercase hyphenated v4 UUIDs (version nibble 4, RFC 4122
/// variant), the form SQL Server gives back, and are not repeated.
#[test]
fn new_ids_are_random_v4_uuids() {
    let ids: Vec<String> = (0..64).map(|_| new_uuid()).collect();
    for id in &ids {
        assert!(crate::limits::is_uuid(id), "{id}");
        assert_eq!(id.as_bytes().get(14), Some(&b'4'), "{id}");
        assert!(
            matches!(id.as_bytes().get(19), Some(b'8' | b'9' | b'a' | b'b')),
            "{id}"
        );
    }
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len());
}

type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

/// The id given to a record that has none (both roads get the same one).
const NEW_ID: &str = "0d7f5a6e-1c2b-4d3e-8f90-a1b2c3d4e5f6";

/// The fast road's answer for `line`, checked against the full parse's: the
/// same pack entry (line, hash, index key, id, time) and redaction count, or
/// `None` (then only the full parse answers). The manifest's scope is the
/// line's own when it names one, so that most lines are in scope.
fn both_roads(line: &str, raw: bool, custom: &[String]) -> Option<Prepared> {
    // Compiling the patterns is most of a debug build's time here: once.
    static BUILTIN: std::sync::OnceLock<Option<Redactor>> = std::sync::OnceLock::new();
    let scope = |key: &str, default: &str| {
        serde_json::from_str::<Value>(line)
            .ok()
            .and_then(|v| v.get(key)?.as_str().map(String::from))
            .unwrap_or_else(|| default.to_owned())
    };
    let mut manifest = Manifest::new(
        "t",
        "http",
        &scope("source_system", "example-api"),
        &scope("entity_type", "page"),
    );
    manifest.redaction_policy.patterns = custom.to_vec();
    let path = Path::new("manifest.json");
    let redactor = if custom.is_empty() {
        BUILTIN
            .get_or_init(|| Redactor::for_policy(&manifest.redaction_policy, path).ok())
            .clone()?
    } else {
        Redactor::for_policy(&manifest.redaction_policy, path).ok()?
    };
    let provenance = Provenance {
        runner_name: Some("runner".into()),
        host: Some("https://deploy:hunter2secret@host.example".into()),
        git_sha: None,
        connector_version: Some("fabric 1.0".into()),
    };
    let now = time::macros::datetime!(2024-05-06 07:08:09.123456789 UTC);
    let context = Context::new(raw, &manifest, &redactor, &provenance, now);
    let fast = context.fast(line, || NEW_ID.to_owned(), &mut Scratch::default());
    // With the buffers of the lines before (as a worker keeps them; the
    // redactors of these tests name the same headers secret).
    let shared =
        SHARED.with(|scratch| context.fast(line, || NEW_ID.to_owned(), &mut scratch.borrow_mut()));
    assert_eq!(shared, fast, "{line}");
    let full = context.full(line, Path::new("in.ndjson"), 1, || NEW_ID.to_owned());
    // Each of the fast road's two ways on its own.
    let mut scratch = Scratch::default();
    let one_pass = context
        .one_pass(line, &mut scratch)
        .and_then(|r| context.finish(line, r, || NEW_ID.to_owned(), &mut scratch));
    let tree = context
        .tree(line, &mut scratch.payloads)
        .and_then(|r| context.finish(line, r, || NEW_ID.to_owned(), &mut scratch));
    ONE_PASS.with(|n| n.set(n.get() + usize::from(one_pass.is_some())));
    for (road, answer) in [("fast", &fast), ("one pass", &one_pass), ("tree", &tree)] {
        if let Some(answer) = answer {
            let full = full.as_ref().unwrap_or_else(|e| {
                panic!("the {road} road took a line the full parse refuses ({e}): {line}")
            });
            assert_eq!(*answer, Prepared::of_record(full), "{road}: {line}");
        }
    }
    fast
}

thread_local! {
    /// A worker's buffers, kept from one line to the next.
    static SHARED: std::cell::RefCell<Scratch> = std::cell::RefCell::default();
    /// Lines the one-pass way took on this thread (one test).
    static ONE_PASS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// The record lines of the canonical vectors, and the payloads of the
/// redaction vectors in envelopes.
fn vector_lines() -> std::result::Result<Vec<String>, Box<dyn std::error::Error>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors/exchange");
    let mut lines = Vec::new();
    for (file, field) in [
        ("canonical.jsonl", "record_line"),
        ("redaction.jsonl", "input"),
    ] {
        for case in std::fs::read_to_string(dir.join(file))?.lines() {
            let case: Value = serde_json::from_str(case)?;
            lines.push(match &case[field] {
                Value::String(line) => line.clone(),
                input => input.to_string(),
            });
        }
    }
    Ok(lines)
}

/// Lines with every field in use, secrets anywhere (headers, deep under
/// unknown keys, in keys written with escapes), Unicode in keys and values
/// (NFC and not), numbers the canonical form respells, and fields to fill.
const LINES: &[&str] = &[
    r#"{"request": {"method": "GET", "url": "https://user:pa55word@api.example.org/x?token=abcdef123456&lang=en", "headers": {"Authorization": "Bearer abc.def.ghi", "Accept": "application/json"}}, "response": {"status": 200, "body": {"caf\u0065\u0301": "na\u00efve", "n": [1, -0, 0.0, 1e2, 2.50, 1E-7, 123456789012345678901234567890, 0.1234567890123456789], "deep": [[{"client_secret": ["a", {"b": "c"}, 7]}]]}}}"#,
    r#"{"exchange_id": "21636369-8b52-4b4a-97b7-50923ceb3ffd", "exchange_type": "llm", "natural_key": "sk-abcdefghijklmnopqrstuvwx", "request": null, "response": "AKIAABCDEFGHIJKLMNOP", "observed_at_utc": "2024-01-15T10:30:00Z", "provenance": {"runner_name": null, "host": "h", "other": [1, {"x": null}]}, "content_sha256": "", "schema_version": 2, "tags": ["ghp_abcdefghijklmnopqrstuvwxyz0123456789", "plain"], "redactions_applied": ["rule:old", "request_secrets"], "response_ref": "https://a.example/?sig=abc", "zeta": {"nested": {"pass\u0077ord": "hunter2!"}}, "alpha": "xoxb-1234567890-abcdef"}"#,
    r#"{"response": {"headers": {"Set-Cookie": ["a=1", "b=2"], "X-Trace": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"}, "HEADERS": {"cookie": "x"}, "\u00e9t\u00e9": "\u0000\u001f\t\"\\/"}, "request": {"headers": "Authorization: Basic dXNlcjpwYXNz"}, "observed_at_utc": "2024-01-15T10:30:00.5+02:00", "natural_key": ""}"#,
    r#"{"request": [1, 2, {"api_key": 5, "token": "", "secret": "[REDACTED]", "Password": {"deep": [true, "x"]}}], "response": null, "unknown": null, "Token": "t0k3n-value", "exchange_id": null, "provenance": null, "tags": null, "schema_version": null}"#,
    r#"  {"response": "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----", "request": {"\ud83d\ude00": "\u2028", "k": "password = 'correcthorse'"}}  "#,
    // Declined (the full parse answers): a key twice, a float beyond f64, NaN,
    // not an envelope, a bad time, wrong types.
    r#"{"request": {"a": 1, "a": 2}}"#,
    r#"{"request": null, "response": null, "x": 1, "x": 2}"#,
    r#"{"request": {"v": 1e999}}"#,
    r#"{"request": {"v": NaN}}"#,
    r#"{"natural_key": "k"}"#,
    r#"{"request": null, "observed_at_utc": "yesterday"}"#,
    r#"{"request": null, "source_system": 5}"#,
    r#"{"request": null, "tags": [1]}"#,
    r#"{"request": null, "schema_version": 1.0}"#,
    r#"[{"request": null}]"#,
];

#[test]
fn the_fast_road_writes_what_the_full_parse_writes() -> TestResult {
    let mut taken = 0;
    let mut lines = vector_lines()?;
    lines.extend(LINES.iter().map(|l| (*l).to_owned()));
    for line in &lines {
        taken += usize::from(both_roads(line, false, &[]).is_some());
        // Any line is a raw payload (the full parse refuses the non-JSON ones).
        both_roads(line, true, &[]);
    }
    assert!(taken >= 50, "only {taken} of {} lines", lines.len());
    let one_pass = ONE_PASS.with(std::cell::Cell::get);
    assert!(
        one_pass >= 40,
        "the one-pass way took only {one_pass} lines"
    );
    for declined in &LINES[5..] {
        assert_eq!(both_roads(declined, false, &[]), None, "{declined}");
    }
    // With a custom pattern, anchored at the start of a string.
    let custom = ["^internal-[0-9]+$".to_owned()];
    let line = r#"{"request": {"id": "internal-42", "note": "not internal-42"}}"#;
    let prepared = both_roads(line, false, &custom).ok_or("declined")?;
    assert!(prepared.redacted);
    assert!(
        prepared
            .entry
            .line
            .contains(r#""id": "[REDACTED]", "note": "not internal-42""#)
    );
    Ok(())
}

/// A record outside the manifest's scope is left to the full parse, which
/// refuses it.
#[test]
fn out_of_scope_records_take_the_full_parse() -> TestResult {
    let manifest = Manifest::new("t", "http", "here", "page");
    let redactor = Redactor::for_policy(&manifest.redaction_policy, Path::new("m"))?;
    let now = time::macros::datetime!(2024-05-06 07:08:09 UTC);
    let provenance = Provenance::default();
    let context = Context::new(false, &manifest, &redactor, &provenance, now);
    let line = r#"{"request": null, "source_system": "elsewhere"}"#;
    assert_eq!(context.fast(line, new_uuid, &mut Scratch::default()), None);
    let full = context.full(line, Path::new("in"), 1, new_uuid);
    assert!(matches!(full, Err(Error::OutOfScope { .. })), "{full:?}");
    Ok(())
}

/// A new corner of the fast road: a key whose name is written with escapes is
/// read decoded, so a secret under it, deep under an unknown top-level key, is
/// still caught.
#[test]
fn secrets_under_escaped_keys_are_redacted_on_the_fast_road() -> TestResult {
    let line = r#"{"request": null, "extra": {"a": [{"b": {"api\u005fkey": "k-123", "p\u0061ssword": ["x", {"y": "z"}]}}]}}"#;
    let prepared = both_roads(line, false, &[]).ok_or("declined")?;
    let record = ExchangeRecord::parse_line(&prepared.entry.line)
        .map_err(|_| "unreadable line")?
        .record;
    assert_eq!(
        record.extra.get("extra"),
        Some(
            &serde_json::json!({"a": [{"b": {"api_key": "[REDACTED]", "password": ["[REDACTED]", {"y": "[REDACTED]"}]}}]})
        )
    );
    assert!(
        record
            .redactions_applied
            .contains(&"record_secrets".to_owned())
    );
    assert!(prepared.redacted);
    Ok(())
}

/// Pieces a mutation inserts into a line: JSON's punctuation, secrets, keys the
/// envelope knows, numbers and text the canonical form respells.
const PIECES: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "\"",
    "\\",
    " ",
    "0",
    "-",
    ".",
    "e",
    "1e999",
    "NaN",
    "null",
    "\"a\": 1, ",
    "\"request\": null, ",
    "\"response\": 1, ",
    "\"token\": \"abcdefgh123\", ",
    "\"headers\": {\"cookie\": \"c\"}, ",
    "\"tags\": [\"t\"], ",
    "\"provenance\": {}, ",
    "\"natural_key\": \"k\", ",
    "\"exchange_id\": null, ",
    "\"observed_at_utc\": null, ",
    "\"schema_version\": 3, ",
    "\"source_system\": \"s\", ",
    "https://u:p@h/?key=v",
    "\\u00e9",
    "e\\u0301",
    "Bearer abc.def",
    "\\ud83d\\ude00",
    "1.25e-5",
    "12345678901234567890",
];

fn mutate(base: &str, edits: &[(usize, usize, bool)]) -> String {
    let mut s = base.to_owned();
    for &(at, piece, delete) in edits {
        let mut at = at % (s.len() + 1);
        while !s.is_char_boundary(at) {
            at -= 1;
        }
        if delete && at < s.len() {
            s.remove(at);
        } else {
            s.insert_str(at, PIECES[piece % PIECES.len()]);
        }
    }
    s
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    /// On any line near a valid one, the fast road answers what the full
    /// parse answers, or leaves the line to it.
    #[test]
    fn the_fast_road_agrees_on_mutated_lines(
        base in 0usize..5,
        edits in proptest::collection::vec((0usize..600, 0usize..64, any::<bool>()), 1..4),
        raw: bool,
    ) {
        let line = mutate(LINES[base], &edits);
        both_roads(&line, raw, &[]);
    }
}

/// A bad line after several chunks have gone to the file thread: the command
/// fails naming it, and the pack is left as it was (no chunk, no index line).
#[test]
fn a_bad_line_after_chunks_written_behind_leaves_the_pack_as_it_was() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let mut manifest = Manifest::new("t", "http", "example-api", "page");
    let manifest_path =
        crate::pack::init_dataset(tmp.path(), &mut manifest, OffsetDateTime::UNIX_EPOCH)?;
    let dir = dataset_dir(&manifest_path);
    let before = files_under(&dir)?;
    let mut input = String::new();
    for i in 0..40 {
        input.push_str(&format!(
            "{{\"natural_key\": \"k{i}\", \"response\": {{\"n\": {i}}}}}\n"
        ));
    }
    input.push_str("{not json\n");
    let options = AddOptions {
        dry_run: false,
        raw: false,
        chunk_size: 3,
        provenance: Provenance::default(),
        input_bytes: None,
    };
    let err = add(
        &manifest_path,
        &mut input.as_bytes(),
        Path::new("input.ndjson"),
        &options,
        OffsetDateTime::UNIX_EPOCH,
    )
    .err()
    .ok_or("the bad line fails the command")?;
    assert!(err.to_string().contains("line 41"), "{err}");
    assert_eq!(files_under(&dir)?, before, "the pack is as it was");
    Ok(())
}

/// Every file under `dir` (relative, sorted), the lock file aside.
fn files_under(dir: &Path) -> std::result::Result<Vec<String>, Box<dyn std::error::Error>> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d)? {
            let path = entry?.path();
            if path.is_dir() {
                todo.push(path);
            } else if path.file_name().is_some_and(|n| n != ".lock") {
                out.push(path.strip_prefix(dir)?.display().to_string());
            }
        }
    }
    out.sort();
    Ok(out)
}
