//! The two input documents: the scope file and the oracle results file,
//! parsed from text with whitelisted keys; no I/O.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::contract::{Container, Context, Filters, Labels, Scope, format_utc, parse_utc};
use crate::document::{self, Document, ResultDoc, Results};
use crate::error::{Error, Result};
use crate::payload::Payload;

/// Format tag of the scope file.
pub const SCOPE_FORMAT: &str = "fabric.dashboard.scope/1";
/// Format tag of the oracle results file.
pub const ORACLES_FORMAT: &str = "fabric.dashboard.oracles/1";

const SCOPE_KEYS: &[&str] = &[
    "format",
    "dashboard_product",
    "request_token",
    "context",
    "container",
    "as_of",
    "timezone",
    "labels",
    "filters",
    "expected_oracles",
];
const ORACLES_KEYS: &[&str] = &["format", "request_token", "context", "container", "results"];
const RESULT_KEYS: &[&str] = &[
    "oracle_key",
    "status",
    "oracle_version",
    "stale",
    "metadata",
    "payload",
    "reason",
];

/// A parsed scope file.
#[derive(Debug, Clone, PartialEq)]
pub struct ScopeFile {
    /// The scope (expected oracles empty when the file names none).
    pub scope: Scope,
    /// Whether the file listed `expected_oracles`.
    pub expected_given: bool,
    /// The file's request token, if any.
    pub request_token: Option<String>,
    /// The document without its request token (input of the derived token).
    pub(crate) identity: Value,
}

/// What an oracle returned.
#[derive(Debug, Clone, PartialEq)]
pub enum OracleOutcome {
    /// A payload (its JSON text).
    Ok(Payload),
    /// An error with the oracle's own code (`timeout`, ...) and message.
    Error {
        /// e.g. `timeout`.
        code: Option<String>,
        /// Free text.
        message: Option<String>,
    },
}

/// One oracle result envelope.
#[derive(Debug, Clone, PartialEq)]
pub struct OracleResult {
    /// `[a-z][a-z0-9_]*`.
    pub oracle_key: String,
    /// Payload or error.
    pub outcome: OracleOutcome,
    /// Oracle contract version (default 1).
    pub oracle_version: u32,
    /// Served stale.
    pub stale: bool,
    /// Flat scalar metadata.
    pub metadata: BTreeMap<String, Value>,
}

/// A parsed oracle results file.
#[derive(Debug, Clone, PartialEq)]
pub struct OracleResults {
    /// If present, must equal the bundle's token.
    pub request_token: Option<String>,
    /// If present, must equal the scope's context.
    pub context: Option<Context>,
    /// If present, must equal the scope's container.
    pub container: Option<Container>,
    /// Results keyed by oracle key (no duplicates).
    pub results: BTreeMap<String, OracleResult>,
    /// The document as given (input of the derived token, parsed only then; the
    /// payloads are ranges of it).
    pub(crate) raw_text: Arc<String>,
}

impl OracleResults {
    /// The document as a JSON value (re-parsed from the text it was read from).
    pub(crate) fn raw(&self) -> Value {
        serde_json::from_str(self.raw_text.as_str()).unwrap_or(Value::Null)
    }
}

/// `merge_oracle_results(existing, incoming)`: incoming results override existing
/// ones with the same key (the reference's rule for incremental callers).
pub fn merge_oracle_results(
    existing: &BTreeMap<String, OracleResult>,
    incoming: &BTreeMap<String, OracleResult>,
) -> BTreeMap<String, OracleResult> {
    let mut merged = existing.clone();
    for (key, result) in incoming {
        merged.insert(key.clone(), result.clone());
    }
    merged
}

fn check_keys(what: &str, map: &Map<String, Value>, allowed: &[&str]) -> Result<()> {
    let mut unknown: Vec<String> = map
        .keys()
        .filter(|k| !allowed.contains(&k.as_str()))
        .cloned()
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    unknown.sort();
    Err(Error::UnknownKeys {
        what: what.to_owned(),
        keys: unknown,
    })
}

fn parse_doc(what: &'static str, text: &str) -> Result<Map<String, Value>> {
    let mut doc = serde_json::from_str(text).map_err(|source| Error::Json { what, source })?;
    let mut pointer = String::new();
    check_numbers(what, &mut doc, &mut pointer)?;
    match doc {
        Value::Object(map) => Ok(map),
        _ => Err(Error::field(what, "", "expected an object")),
    }
}

/// Refuse floats that overflow `f64` (`1e999`: the bundle would hold a number JSON
/// cannot spell and could not be read back) and spell the integer `-0` as `0` (the
/// same number; bundles read back typed would otherwise differ from what was
/// written). Depth is bounded by serde_json's recursion limit (128).
pub(crate) fn check_numbers(
    what: &'static str,
    value: &mut Value,
    pointer: &mut String,
) -> Result<()> {
    match value {
        Value::Number(n) => {
            let text = n.as_str();
            let is_float = text.bytes().any(|b| matches!(b, b'.' | b'e' | b'E'));
            if is_float && !text.parse::<f64>().is_ok_and(f64::is_finite) {
                return Err(Error::field(
                    what,
                    pointer.clone(),
                    format!("number {text} overflows a 64-bit float"),
                ));
            }
            if text == "-0" {
                *n = serde_json::Number::from(0u8);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&i.to_string());
                check_numbers(what, item, pointer)?;
                pointer.truncate(len);
            }
        }
        Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&key.replace('~', "~0").replace('/', "~1"));
                check_numbers(what, item, pointer)?;
                pointer.truncate(len);
            }
        }
        Value::Null | Value::Bool(_) | Value::String(_) => {}
    }
    Ok(())
}

fn check_format(what: &'static str, map: &Map<String, Value>, tag: &str) -> Result<()> {
    let found = map.get("format").and_then(Value::as_str).unwrap_or("");
    if found == tag {
        Ok(())
    } else {
        Err(Error::UnsupportedVersion {
            what: if what == "scope" {
                "scope format"
            } else {
                "oracle results format"
            },
            found: found.to_owned(),
            supported: tag.to_owned(),
        })
    }
}

fn typed<T: serde::de::DeserializeOwned>(
    what: &'static str,
    pointer: &str,
    value: &Value,
) -> Result<T> {
    serde_json::from_value(value.clone()).map_err(|e| Error::field(what, pointer, e.to_string()))
}

fn token(what: &'static str, value: Option<&Value>) -> Result<Option<String>> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
        Some(_) => Err(Error::field(
            what,
            "/request_token",
            "must be a non-empty string",
        )),
    }
}

/// Parse a scope file (`fabric.dashboard.scope/1`).
pub fn parse_scope(text: &str) -> Result<ScopeFile> {
    const W: &str = "scope";
    let map = parse_doc(W, text)?;
    check_keys(W, &map, SCOPE_KEYS)?;
    check_format(W, &map, SCOPE_FORMAT)?;
    let get = |k: &str| map.get(k).filter(|v| !v.is_null());
    let dashboard_product = match get("dashboard_product") {
        None => "instructor_dashboard".to_owned(),
        Some(v) => typed(W, "/dashboard_product", v)?,
    };
    let context: Context = typed(
        W,
        "/context",
        get("context").ok_or_else(|| Error::field(W, "/context", "missing"))?,
    )?;
    let container: Container = typed(
        W,
        "/container",
        get("container").ok_or_else(|| Error::field(W, "/container", "missing"))?,
    )?;
    let as_of_text: String = typed(
        W,
        "/as_of",
        get("as_of").ok_or_else(|| Error::field(W, "/as_of", "missing (the only clock)"))?,
    )?;
    let as_of = parse_utc(&as_of_text)
        .ok_or_else(|| Error::field(W, "/as_of", crate::contract::AS_OF_REFUSED))?;
    let timezone = match get("timezone") {
        None => "Etc/UTC".to_owned(),
        Some(v) => typed(W, "/timezone", v)?,
    };
    let labels: Labels = match get("labels") {
        None => Labels::default(),
        Some(v) => typed(W, "/labels", v)?,
    };
    let filters: Filters = match get("filters") {
        None => Filters::default(),
        Some(v) => typed(W, "/filters", v)?,
    };
    let expected: Option<Vec<String>> = match get("expected_oracles") {
        None => None,
        Some(v) => Some(typed(W, "/expected_oracles", v)?),
    };
    if let Some(list) = &expected {
        for (i, key) in list.iter().enumerate() {
            if !valid_key(key) {
                return Err(Error::field(
                    W,
                    format!("/expected_oracles/{i}"),
                    "oracle keys match [a-z][a-z0-9_]*",
                ));
            }
        }
    }
    let request_token = token(W, map.get("request_token"))?;
    let mut identity = map.clone();
    identity.remove("request_token");
    Ok(ScopeFile {
        scope: Scope {
            dashboard_product,
            context,
            container,
            as_of: format_utc(as_of),
            timezone,
            labels,
            filters,
            expected_oracles: expected.clone().unwrap_or_default(),
        },
        expected_given: expected.is_some(),
        request_token,
        identity: Value::Object(identity),
    })
}

/// Whether `key` is a valid oracle key: `[a-z][a-z0-9_]*`.
pub fn valid_key(key: &str) -> bool {
    let mut chars = key.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Parse an oracle results file (`fabric.dashboard.oracles/1`). A key that appears
/// twice is an error.
pub fn parse_oracles(text: &str) -> Result<OracleResults> {
    parse_oracles_text(text.to_owned())
}

/// [`parse_oracles`] taking the text by value: the payloads stay ranges of it, so
/// a large document is held once, never as a JSON tree.
pub fn parse_oracles_text(text: String) -> Result<OracleResults> {
    const W: &str = "oracle results";
    let (raw_text, doc) = document::read(W, text)?;
    let (map, results) = match doc {
        Document::Object { map, results } => (map, results),
        Document::Other(_) => return Err(Error::field(W, "", "expected an object")),
    };
    check_keys(W, &map, ORACLES_KEYS)?;
    check_format(W, &map, ORACLES_FORMAT)?;
    let get = |k: &str| map.get(k).filter(|v| !v.is_null());
    let request_token = token(W, map.get("request_token"))?;
    let context = get("context")
        .map(|v| typed::<Context>(W, "/context", v))
        .transpose()?;
    let container = get("container")
        .map(|v| typed::<Container>(W, "/container", v))
        .transpose()?;
    let list = match results {
        Some(Results::List(list)) => list,
        _ => return Err(Error::field(W, "/results", "must be an array")),
    };
    let mut results = BTreeMap::new();
    let mut first_index: BTreeMap<String, usize> = BTreeMap::new();
    for (i, item) in list.into_iter().enumerate() {
        let result = parse_result(i, item)?;
        if let Some(first) = first_index.get(&result.oracle_key) {
            return Err(Error::DuplicateOracle {
                key: result.oracle_key,
                first: *first,
                second: i,
            });
        }
        first_index.insert(result.oracle_key.clone(), i);
        results.insert(result.oracle_key.clone(), result);
    }
    Ok(OracleResults {
        request_token,
        context,
        container,
        results,
        raw_text,
    })
}

fn parse_result(i: usize, item: ResultDoc) -> Result<OracleResult> {
    const W: &str = "oracle results";
    let at = |field: &str| format!("/results/{i}/{field}");
    let ResultDoc::Object(map, mut payload) = item else {
        return Err(Error::field(
            W,
            format!("/results/{i}"),
            "expected an object",
        ));
    };
    check_keys(&format!("oracle result {i}"), &map, RESULT_KEYS)?;
    let oracle_key = match map.get("oracle_key") {
        Some(Value::String(k)) if valid_key(k) => k.clone(),
        _ => {
            return Err(Error::field(
                W,
                at("oracle_key"),
                "must match [a-z][a-z0-9_]*",
            ));
        }
    };
    let oracle_version = match map.get("oracle_version") {
        None | Some(Value::Null) => 1,
        Some(v) => v
            .as_u64()
            .and_then(|v| u32::try_from(v).ok())
            .ok_or_else(|| {
                Error::field(W, at("oracle_version"), "must be a non-negative integer")
            })?,
    };
    let stale = match map.get("stale") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(Error::field(W, at("stale"), "must be a boolean")),
    };
    let mut metadata = BTreeMap::new();
    match map.get("metadata") {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => {
            for (k, v) in m {
                if v.is_object() || v.is_array() {
                    return Err(Error::field(
                        W,
                        format!("{}/{k}", at("metadata")),
                        "metadata values must be scalars",
                    ));
                }
                metadata.insert(k.clone(), v.clone());
            }
        }
        Some(_) => return Err(Error::field(W, at("metadata"), "must be an object")),
    }
    let outcome = match map.get("status").and_then(Value::as_str) {
        Some("ok") => match payload.take() {
            Some(p) => OracleOutcome::Ok(p),
            None => {
                return Err(Error::field(
                    W,
                    at("payload"),
                    "an ok result needs a payload",
                ));
            }
        },
        Some("error") => {
            let reason = map.get("reason");
            let text = |k: &str| {
                reason
                    .and_then(|r| r.get(k))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            };
            let (code, message) = match reason {
                Some(Value::String(s)) => (None, Some(s.clone())),
                _ => (text("code"), text("message")),
            };
            OracleOutcome::Error { code, message }
        }
        _ => return Err(Error::field(W, at("status"), "must be \"ok\" or \"error\"")),
    };
    Ok(OracleResult {
        oracle_key,
        outcome,
        oracle_version,
        stale,
        metadata,
    })
}
