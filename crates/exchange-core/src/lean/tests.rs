//! The fast path agrees with the full parse on every canonical vector and
//! declines whatever it is unsure about.

use super::*;
use crate::ExchangeRecord;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// The record lines of the canonical vectors.
pub(crate) fn vectors() -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let text = include_str!("../../../../tests/vectors/exchange/canonical.jsonl");
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let case: serde_json::Value = serde_json::from_str(line)?;
        out.push(
            case["record_line"]
                .as_str()
                .ok_or("record_line")?
                .to_owned(),
        );
    }
    Ok(out)
}

#[test]
fn fast_path_agrees_with_full_parse_on_vectors() -> TestResult {
    let mut accepted = 0;
    for line in vectors()? {
        let full = ExchangeRecord::parse_line(&line)
            .ok()
            .filter(|p| !p.had_nan_literals)
            .map(|p| p.record);
        let (ss, et) = full.as_ref().map_or(("x", "y"), |r| {
            (r.source_system.as_str(), r.entity_type.as_str())
        });
        let Some(fast) = check_line(&line, ss, et) else {
            continue;
        };
        accepted += 1;
        let r = full
            .as_ref()
            .ok_or("fast path accepted a line the full parse refuses")?;
        assert_eq!(r.compute_hash(), r.content_sha256, "{line}");
        assert_eq!(Some(fast), Checked::of_record(r), "{line}");
    }
    assert!(accepted >= 30, "only {accepted} vectors took the fast path");
    Ok(())
}

#[test]
fn fast_path_declines_unusual_lines() -> TestResult {
    let base = vectors()?.into_iter().next().ok_or("no vectors")?;
    let r = ExchangeRecord::parse_line(&base)
        .map_err(|_| "vector")?
        .record;
    let (ss, et) = (r.source_system.clone(), r.entity_type.clone());
    assert!(check_line(&base, &ss, &et).is_some());
    // Out of scope, duplicate key, array envelope, bad provenance, float version.
    assert!(check_line(&base, "other", &et).is_none());
    let dup = base.replacen("\"request\": null", "\"request\": null, \"request\": 1", 1);
    assert!(check_line(&dup, &ss, &et).is_none());
    let nested = base.replacen("\"request\": null", "\"request\": {\"a\": 1, \"a\": 2}", 1);
    assert!(check_line(&nested, &ss, &et).is_none());
    assert!(check_line(&format!("[{base}]"), &ss, &et).is_none());
    let prov = base.replacen("\"provenance\": null", "\"provenance\": [1]", 1);
    assert!(check_line(&prov, &ss, &et).is_none());
    // Provenance, tags and redactions are checked as the full parse checks them,
    // and accepted when well-formed.
    for (from, to, accepted) in [
        (
            "\"provenance\": null",
            "\"provenance\": {\"host\": 1}",
            false,
        ),
        (
            "\"provenance\": null",
            "\"provenance\": {\"host\": null, \"x\": [1, {}]}",
            true,
        ),
        (
            "\"provenance\": null",
            "\"provenance\": {\"git_sha\": \"a\\u00e9\"}",
            true,
        ),
        ("\"tags\": []", "\"tags\": [1]", false),
        ("\"tags\": []", "\"tags\": [\"a\", \"b\\n\"]", true),
        (
            "\"redactions_applied\": []",
            "\"redactions_applied\": \"x\"",
            false,
        ),
        (
            "\"redactions_applied\": []",
            "\"redactions_applied\": null",
            true,
        ),
    ] {
        let line = base.replacen(from, to, 1);
        assert_ne!(line, base);
        let full = ExchangeRecord::parse_line(&line).is_ok();
        assert_eq!(full, accepted, "{line}");
        assert_eq!(check_line(&line, &ss, &et).is_some(), accepted, "{line}");
    }
    let ver = base.replacen("\"schema_version\": 1", "\"schema_version\": 1.0", 1);
    assert!(check_line(&ver, &ss, &et).is_none());
    let nan = base.replacen("\"request\": null", "\"request\": NaN", 1);
    assert!(check_line(&nan, &ss, &et).is_none());
    Ok(())
}

mod agree {
    //! Property: on any line, when the fast path accepts it, the full path gives
    //! the same hash and values; a stored hash that does not match is never
    //! accepted.

    use proptest::prelude::*;

    use super::super::{Checked, check_line};
    use crate::ExchangeRecord;

    /// JSON number texts the canonical form treats differently: ints, big ints,
    /// negative zero, floats Python spells its own way.
    fn number() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<i64>().prop_map(|n| n.to_string()),
            any::<u64>().prop_map(|n| n.to_string()),
            Just(u64::MAX.to_string()),
            Just(i64::MIN.to_string()),
            Just("-0".to_owned()),
            Just("123456789012345678901234567890".to_owned()),
            Just("-98765432109876543210".to_owned()),
            Just("1.0".to_owned()),
            Just("-0.0".to_owned()),
            Just("0.1".to_owned()),
            Just("1e5".to_owned()),
            Just("1E-7".to_owned()),
            Just("2.5e+300".to_owned()),
            Just("1e400".to_owned()),
            Just("100000000000000000.0".to_owned()),
            any::<f64>()
                .prop_filter("finite", |x| x.is_finite())
                .prop_map(|x| format!("{x:e}")),
            (any::<i32>(), 0u32..1000).prop_map(|(a, b)| format!("{a}.{b}")),
        ]
    }

    /// String bodies (JSON-escaped already): ASCII, NFC and NFD forms of the same
    /// text, a compatibility character, escapes, astral characters.
    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z]{0,6}",
            Just("\u{e9}".to_owned()),
            Just("e\u{301}".to_owned()),
            Just("\u{212b}".to_owned()),
            Just("A\u{30a}".to_owned()),
            Just("\\u00e9".to_owned()),
            Just("\\ud83d\\ude00".to_owned()),
            Just("\u{1f600}".to_owned()),
            Just("tab\\tquote\\\"back\\\\".to_owned()),
            Just("\\u0000\\u001f".to_owned()),
            Just("\u{2028}".to_owned()),
        ]
    }

    fn value() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            Just("null".to_owned()),
            Just("true".to_owned()),
            Just("false".to_owned()),
            number(),
            text().prop_map(|s| format!("\"{s}\"")),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5)
                    .prop_map(|v| format!("[{}]", v.join(", "))),
                prop::collection::vec((text(), inner), 0..5).prop_map(|v| {
                    let entries: Vec<String> = v
                        .into_iter()
                        .map(|(k, v)| format!("\"{k}\": {v}"))
                        .collect();
                    format!("{{{}}}", entries.join(", "))
                }),
            ]
        })
    }

    fn line(key: &str, request: &str, response: &str, hash: &str) -> String {
        format!(
            "{{\"exchange_id\": \"0b6f1c1e-2f5d-4d43-9d1e-3c1b8f0f9a11\", \"exchange_type\": \"http\", \
             \"source_system\": \"s\", \"entity_type\": \"e\", \"natural_key\": {key}, \
             \"request\": {request}, \"response\": {response}, \
             \"observed_at_utc\": \"2024-01-15T10:30:00.123456+02:00\", \"provenance\": null, \
             \"content_sha256\": \"{hash}\", \"schema_version\": 1, \"tags\": [], \
             \"redactions_applied\": [], \"response_ref\": null}}"
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn fast_and_full_paths_agree(
            key in prop_oneof![Just("null".to_owned()), text().prop_map(|s| format!("\"{s}\""))],
            request in value(),
            response in value(),
        ) {
            let zeros = "0".repeat(64);
            let draft = line(&key, &request, &response, &zeros);
            let Ok(parsed) = ExchangeRecord::parse_line(&draft) else {
                // Not a record the full path reads: the fast path must decline too.
                prop_assert!(check_line(&draft, "s", "e").is_none());
                return Ok(());
            };
            let hash = parsed.record.compute_hash();
            let good = line(&key, &request, &response, &hash.to_hex());
            let full = ExchangeRecord::parse_line(&good)
                .map_err(|_| TestCaseError::fail("full parse of the hashed line"))?
                .record;
            if let Some(fast) = check_line(&good, "s", "e") {
                prop_assert_eq!(fast.content_sha256, hash);
                prop_assert_eq!(Some(fast), Checked::of_record(&full));
            }
            if hash.to_hex() != zeros {
                prop_assert!(check_line(&draft, "s", "e").is_none());
            }
        }

        /// `add`'s one pass writes the payloads as the tree's writers write
        /// the tree of the same line (and reads nothing the tree refuses).
        #[test]
        fn one_pass_writes_what_the_tree_writes(
            request in value(),
            response in value(),
            raw: bool,
        ) {
            let text = if raw {
                request.clone()
            } else {
                format!("{{\"request\": {request}, \"response\": {response}}}")
            };
            let mut payloads = crate::lean::Payloads::default();
            let mut visit = |_: crate::lean::Seen<'_>| true;
            let Some(written) = crate::lean::read_written(&text, raw, &mut payloads, &mut visit)
            else {
                return Ok(());
            };
            let tree = crate::lean::read_new(&text, raw)
                .ok_or_else(|| TestCaseError::fail(format!("the tree refuses {text}")))?;
            let mut expected = crate::lean::Payloads::default();
            for (ours, node) in [(&written.request, &tree.request), (&written.response, &tree.response)] {
                let theirs = expected.write(node);
                prop_assert_eq!(payloads.texts(ours), expected.texts(&theirs), "{}", text);
            }
        }
    }
}
