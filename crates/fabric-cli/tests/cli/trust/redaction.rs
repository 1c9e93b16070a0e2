//! Item 4: a corpus of planted secrets in every shape the redactor must cover
//! (request and response headers, every string of a record with unknown keys,
//! tags and provenance, URL userinfo and parameters, keys naming secrets,
//! provider formats, the manifest's added header names and patterns). The
//! records go through `add`, `verify`, `import`, `export`, `pack`, `unpack`;
//! no planted value may appear in any byte written (chunks, index, store, the
//! zip's entries, the unpacked copy, the exported pack) or printed.

use std::io::Read;

use serde_json::{Value, json};

use super::{Files, Home, TestResult, files_under};

/// The planted values: `(shape, value)`. Each value is unique and appears only
/// in the input.
fn corpus() -> Vec<(&'static str, String)> {
    let pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAplantedRSAkey0033\nQmFzZTY0Ym9keQ==\n-----END RSA PRIVATE KEY-----";
    let openssh = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAplanted0034\n-----END OPENSSH PRIVATE KEY-----";
    vec![
        ("request Authorization Bearer", "reqbearer0001abcdef".into()),
        ("request Cookie", "reqcookie0002xyz".into()),
        ("request X-Api-Key", "reqxapikey0003".into()),
        (
            "response Authorization Basic",
            "cmVzcGJhc2ljMDAwNDpwYXNz".into(),
        ),
        ("response Set-Cookie", "respsetcookie0005".into()),
        (
            "request Proxy-Authorization",
            "cHJveHlhdXRoMDAwNjpwdw==".into(),
        ),
        ("response Proxy-Authorization", "respproxy0007token".into()),
        ("Authorization in params", "paramsauth0008value".into()),
        (
            "Authorization inside a body string",
            "Ym9keWF1dGgwMDA5OnNlY3JldA==".into(),
        ),
        ("URL user:password@", "urlpass0010".into()),
        ("URL token@", "urltokenuser0011".into()),
        ("URL access_token=", "urlparam0012secret".into()),
        (
            "AWS key under an unknown key",
            "AKIAPLANTED000000013".into(),
        ),
        ("Bearer under an unknown key", "unknownbearer0014tok".into()),
        (
            "JWT in tags",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJwbGFudGVkMDAxNSJ9.c2lnMDAxNXNpZ25hdHVyZQ".into(),
        ),
        (
            "token in provenance.runner_name",
            "provtoken0016value".into(),
        ),
        (
            "GitHub token in provenance.host",
            "ghp_PLANTEDgithubtoken0017abcdefghijklmnop".into(),
        ),
        ("password key", "hunter2planted0018".into()),
        ("nested client_secret", "clientsecret0019value".into()),
        ("token key", "tokenkey0020value".into()),
        ("api_key key", "apikeykey0021value".into()),
        ("apiKey camelCase key", "apikeycamel0022value".into()),
        ("passwd in an array", "passwdarray0023".into()),
        (
            "GitHub fine-grained PAT",
            "github_pat_11PLANTED0024_abcdefghijklmnopqrstuvwxyz0123456789".into(),
        ),
        (
            "Slack bot token",
            "xoxb-123456789012-PLANTED0025slack".into(),
        ),
        (
            "Slack webhook",
            "https://hooks.slack.com/services/T0PLANTED/B0PLANTED/w3bh00k0026".into(),
        ),
        (
            "Stripe live secret key",
            "sk_live_PLANTED0027abcdefghijklmn".into(),
        ),
        (
            "Stripe restricted key",
            "rk_live_PLANTED0028abcdefghijklmn".into(),
        ),
        (
            "Stripe webhook secret",
            "whsec_PLANTED0029abcdefghijklmn".into(),
        ),
        (
            "Google API key",
            "AIzaSyPLANTED0030abcdefghijklmnopqrstuv".into(),
        ),
        (
            "Google OAuth token",
            "ya29.PLANTED0031abcdefghijklmnopqrstuv".into(),
        ),
        (
            "OpenAI-style key",
            "sk-proj-PLANTED0032abcdefghijklmnop".into(),
        ),
        ("RSA private key PEM", pem.into()),
        ("OpenSSH private key PEM", openssh.into()),
        (
            "npm token",
            "npm_PLANTED0035abcdefghijklmnopqrstuvwxyz".into(),
        ),
        ("GitLab token", "glpat-PLANTED0036abcdefghij".into()),
        (
            "AWS secret access key in text",
            "wJalrXUtnFEMIK7MDENGbPxRfiCYPLANTED00037".into(),
        ),
        ("password= in a body string", "bodypass0038value".into()),
        ("api_key: in a body string", "bodyapikey0039abcdefgh".into()),
        ("manifest-added header name", "customheader0040value".into()),
        ("manifest pattern", "ACME-004141".into()),
        (
            "Set-Cookie line in a response body",
            "bodycookie0042value".into(),
        ),
        ("x-amz-security-token header", "amzsession0043token".into()),
        ("token in natural_key URL", "naturalkey0044token".into()),
        ("secret in response_ref URL", "refpass0045".into()),
        ("credentials key", "credentials0046value".into()),
        ("private_key key", "privatekey0047value".into()),
        ("session id key", "sessionid0048value".into()),
    ]
}

/// Three records holding the whole corpus.
fn input(c: &[(&'static str, String)]) -> String {
    let v = |i: usize| c[i].1.clone();
    let one = json!({
        "natural_key": format!("https://api.example.org/u?token={}", v(43)),
        "request": {
            "method": "GET",
            "url": format!("https://alice:{}@api.example.org/x?access_token={}", v(9), v(11)),
            "headers": {
                "Authorization": format!("Bearer {}", v(0)),
                "Cookie": format!("sid={}", v(1)),
                "X-Api-Key": v(2),
                "Proxy-Authorization": format!("Basic {}", v(5)),
                "X-Internal-Sig": v(39),
                "X-Amz-Security-Token": v(42),
            },
            "params": {"Authorization": format!("Token {}", v(7))},
            "body": format!("POST /login\r\nAuthorization: Basic {}\r\n\r\npassword={}", v(8), v(37)),
        },
        "response": {
            "status": 200,
            "headers": {
                "Authorization": format!("Basic {}", v(3)),
                "Set-Cookie": format!("session={}; HttpOnly", v(4)),
                "Proxy-Authorization": v(6),
            },
            "body": format!("Set-Cookie: sid={}; Path=/\nconfig api_key: {}", v(41), v(38)),
        },
        "observed_at_utc": "2024-03-01T10:00:00Z",
        "tags": ["plain", v(14)],
        "provenance": {"runner_name": format!("ci token={}", v(15)), "host": v(16)},
        "debug": {"aws": v(12), "note": format!("used Bearer {}", v(13))},
        "response_ref": format!("s3://backup:{}@bucket.example.org/blob", v(44)),
    });
    let two = json!({
        "natural_key": "k2",
        "request": {"url": format!("https://{}@git.example.org/repo.git", v(10))},
        "response": {
            "password": v(17),
            "config": {"client_secret": v(18), "token": v(19), "api_key": v(20), "apiKey": v(21)},
            "users": [{"name": "bob", "passwd": v(22)}],
            "credentials": v(45),
            "private_key": v(46),
            "session_id": v(47),
        },
        "observed_at_utc": "2024-03-02T10:00:00Z",
    });
    let text = [
        v(23),
        v(24),
        v(25),
        v(26),
        v(27),
        v(28),
        v(29),
        v(30),
        v(31),
        v(34),
        v(35),
    ]
    .join(" and ");
    let three = json!({
        "natural_key": "k3",
        "request": null,
        "response": {
            "text": text,
            "keys": [v(32), v(33)],
            "env": format!("AWS_SECRET_ACCESS_KEY={}", v(36)),
            "ticket": format!("ref {}", v(40)),
        },
        "observed_at_utc": "2024-03-03T10:00:00Z",
    });
    format!("{one}\n{two}\n{three}\n")
}

/// Every zip entry's inflated bytes.
fn zip_entries(path: &std::path::Path) -> Result<Files, Box<dyn std::error::Error>> {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(path)?)?;
    let mut out = Vec::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i)?;
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes)?;
        out.push((f.name().to_owned(), bytes));
    }
    Ok(out)
}

fn find(hay: &[u8], needle: &str) -> bool {
    let n = needle.as_bytes();
    hay.windows(n.len()).any(|w| w == n)
}

#[test]
fn no_planted_secret_is_written_or_printed() -> TestResult {
    let corpus = corpus();
    assert!(
        corpus.len() >= 40,
        "the corpus holds {} secrets",
        corpus.len()
    );
    let home = Home::new()?;
    // The manifest adds a header name and a pattern to the built-in rules.
    let mpath = home.ds().join("manifest.json");
    let mut manifest: Value = serde_json::from_str(&std::fs::read_to_string(&mpath)?)?;
    manifest["redaction_policy"]["headers_to_redact"] = json!(["x-internal-sig"]);
    manifest["redaction_policy"]["patterns"] = json!(["ACME-[0-9]{6}"]);
    std::fs::write(&mpath, serde_json::to_string_pretty(&manifest)?)?;
    // The input lives outside the home folder (it is the only place they may be).
    let outside = tempfile::tempdir()?;
    let input_path = outside.path().join("in.ndjson");
    std::fs::write(&input_path, input(&corpus))?;
    let m = home.m();
    let zip = home.path().join("cold/ds.zip");
    let unpacked = home.path().join("unpacked");
    let other = Home::new()?;
    let mut printed = String::new();
    let input_arg = input_path.display().to_string();
    let zip_arg = zip.display().to_string();
    let unpacked_arg = unpacked.display().to_string();
    let steps: Vec<Vec<&str>> = vec![
        vec!["exchange", "add", "--manifest", &m, &input_arg],
        vec!["exchange", "verify", "--manifest", &m],
        vec!["exchange", "import", "--manifest", &m],
        vec!["exchange", "pack", "--manifest", &m, "--out", &zip_arg],
        vec![
            "exchange",
            "unpack",
            "--in",
            &zip_arg,
            "--out",
            &unpacked_arg,
        ],
    ];
    for step in &steps {
        for json in [false, true] {
            if json && step[1] != "verify" {
                continue;
            }
            let args: Vec<&str> = if json {
                std::iter::once("--json")
                    .chain(step.iter().copied())
                    .collect()
            } else {
                step.clone()
            };
            let out = home.run(&args, &[], "", &[])?;
            assert_eq!(out.code, 0, "{args:?}: {out:?}");
            printed.push_str(&out.stdout);
            printed.push_str(&out.stderr);
        }
    }
    // The store's rows, exported into a second pack of the same scope.
    let target = format!("sqlite://{}", home.db().display());
    let export = other.run(
        &[
            "exchange",
            "export",
            "--target",
            &target,
            "--manifest",
            &other.m(),
        ],
        &[],
        "",
        &[],
    )?;
    assert_eq!(export.code, 0, "{export:?}");
    printed.push_str(&export.stdout);
    printed.push_str(&export.stderr);
    assert_eq!(other.verify()?, (0, 3));

    let mut written = home.files()?;
    written.extend(files_under(other.path())?);
    written.extend(zip_entries(&zip)?);
    assert!(
        written.iter().any(|(n, _)| n.ends_with(".ndjson")),
        "chunks written"
    );
    assert!(
        written.iter().any(|(n, _)| n == "fabric.db"),
        "store written"
    );
    let mut leaks = Vec::new();
    for (shape, value) in &corpus {
        for (name, bytes) in &written {
            if find(bytes, value) {
                leaks.push(format!("{shape}: in {name}"));
            }
        }
        if printed.contains(value.as_str()) {
            leaks.push(format!("{shape}: printed"));
        }
    }
    assert!(
        leaks.is_empty(),
        "{} leaks:\n{}",
        leaks.len(),
        leaks.join("\n")
    );
    // Every rule that fired is named on the records.
    let chunk: String = written
        .iter()
        .filter(|(n, _)| n.starts_with("ds/records/"))
        .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
        .collect();
    for label in [
        "request_headers",
        "response_headers",
        "request_secrets",
        "response_secrets",
        "record_secrets",
        "rule:secret_key",
        "rule:url_userinfo",
        "rule:url_param",
        "rule:jwt",
        "rule:aws_access_key",
        "rule:github",
        "rule:slack",
        "rule:stripe",
        "rule:google",
        "rule:private_key",
        "rule:custom_1",
    ] {
        assert!(
            chunk.contains(&format!("\"{label}\"")),
            "label {label} missing"
        );
    }
    Ok(())
}

/// `enabled: false` turns redaction off and `add` says so on stderr (even with
/// --json); a manifest's `headers_to_redact` never replaces the built-in list.
#[test]
fn policy_off_warns_and_a_header_list_adds() -> TestResult {
    let home = Home::new()?;
    let mpath = home.ds().join("manifest.json");
    let mut manifest: Value = serde_json::from_str(&std::fs::read_to_string(&mpath)?)?;
    assert_eq!(
        manifest["redaction_policy"]["enabled"],
        json!(true),
        "init turns it on"
    );
    manifest["redaction_policy"]["headers_to_redact"] = json!(["x-only-this"]);
    std::fs::write(&mpath, serde_json::to_string_pretty(&manifest)?)?;
    let line = json!({"natural_key": "a", "request": {"headers": {"Authorization": "Bearer builtin0001", "X-Only-This": "added0002"}}, "response": null}).to_string();
    let out = home.add(&line, &[])?;
    assert_eq!(out.code, 0, "{out:?}");
    let all: Vec<u8> = home.files()?.into_iter().flat_map(|(_, b)| b).collect();
    assert!(!find(&all, "builtin0001") && !find(&all, "added0002"));

    manifest["redaction_policy"]["enabled"] = json!(false);
    std::fs::write(&mpath, serde_json::to_string_pretty(&manifest)?)?;
    let line = json!({"natural_key": "b", "request": {"headers": {"Authorization": "Bearer kept0003"}}, "response": null}).to_string();
    let out = home.run(
        &["--json", "exchange", "add", "--manifest", &home.m()],
        &[],
        &line,
        &[],
    )?;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stderr.contains("records are stored unredacted"),
        "{out:?}"
    );
    let all: Vec<u8> = home.files()?.into_iter().flat_map(|(_, b)| b).collect();
    assert!(find(&all, "kept0003"), "policy off: stored as given");
    Ok(())
}
