//! The `ExchangeRecord` envelope: one JSON object per pack line.

use std::fmt::Write as _;

use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::canonical::{write_escaped, write_plain, write_python_number};
use crate::hash::ContentHash;
use crate::tree::{Kind, Tree};

/// Who produced a record: the four provenance keys, each a string or null.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Provenance {
    /// The process that created the record.
    pub runner_name: Option<String>,
    /// The machine's host name.
    pub host: Option<String>,
    /// The git commit of the producing code, when it ran in a repository.
    pub git_sha: Option<String>,
    /// The connector's version.
    pub connector_version: Option<String>,
}

impl Provenance {
    /// Fill each value left `None` with the one `defaults` holds.
    pub fn complete(&mut self, defaults: &Provenance) {
        let fill = |slot: &mut Option<String>, default: &Option<String>| {
            if slot.is_none() {
                slot.clone_from(default);
            }
        };
        fill(&mut self.runner_name, &defaults.runner_name);
        fill(&mut self.host, &defaults.host);
        fill(&mut self.git_sha, &defaults.git_sha);
        fill(&mut self.connector_version, &defaults.connector_version);
    }

    /// The values that are strings.
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut String> {
        [
            self.runner_name.as_mut(),
            self.host.as_mut(),
            self.git_sha.as_mut(),
            self.connector_version.as_mut(),
        ]
        .into_iter()
        .flatten()
    }
}

/// One exchange record: the portable envelope of one observed request/response.
///
/// Only six fields are hashed ([`ExchangeRecord::compute_hash`]): `exchange_type`,
/// `source_system`, `entity_type`, `natural_key`, `request` and `response`. Everything
/// else (id, time, provenance, tags...) can change without changing the hash.
///
/// Values are kept exactly as read: numbers keep their text (int vs float, big
/// integers), strings are not normalised (NFC applies to the hash input only), and
/// unknown top-level keys are kept in [`ExchangeRecord::extra`] and written back
/// (after the known keys) but never hashed.
#[derive(Debug, Clone, PartialEq)]
pub struct ExchangeRecord {
    /// Random UUID v4, lowercase, hyphenated. Not derived from the content.
    pub exchange_id: String,
    /// `http`, `mediawiki`, `openalex`, `llm`, `file`, `generic`, ... (free text).
    pub exchange_type: String,
    /// The system the data came from; first half of the sync scope.
    pub source_system: String,
    /// The kind of entity; second half of the sync scope.
    pub entity_type: String,
    /// A stable identifier (page id, DOI). `Some("")` is hashed as `""` but means
    /// "no natural key" for every lookup.
    pub natural_key: Option<String>,
    /// The request (any JSON; `Null` when missing).
    pub request: Value,
    /// The response (any JSON; `Null` when missing).
    pub response: Value,
    /// When the data was observed, in the offset it was written with (a naive time
    /// is read as UTC). `None` when missing or null.
    pub observed_at_utc: Option<OffsetDateTime>,
    /// Who produced the record; `None` when missing or null.
    pub provenance: Option<Provenance>,
    /// The stored hash (taken as read; see [`ExchangeRecord::compute_hash`]).
    pub content_sha256: ContentHash,
    /// Envelope schema version (default 1).
    pub schema_version: i64,
    /// Free categorisation tags.
    pub tags: Vec<String>,
    /// Labels of the redactions applied (`request_headers`, `request_secrets`,
    /// `response_secrets`), sorted.
    pub redactions_applied: Vec<String>,
    /// Pointer to a separate blob for a large payload (unused; kept).
    pub response_ref: Option<String>,
    /// Unknown top-level keys, in the order read. Written back, never hashed.
    pub extra: Map<String, Value>,
}

/// Why one line could not become a record.
#[derive(Debug)]
pub enum LineError {
    /// The text is not JSON.
    Json(serde_json::Error),
    /// The JSON is not a valid record.
    Record {
        /// The `exchange_id`, if readable.
        exchange_id: Option<String>,
        /// What is wrong, naming the key.
        reason: String,
    },
}

/// A record parsed from one line, with what the parse noticed.
#[derive(Debug, Clone)]
pub struct ParsedLine {
    /// The record.
    pub record: ExchangeRecord,
    /// The line held the non-standard literals `NaN`, `Infinity` or `-Infinity`
    /// (read as the strings of the same name, which hash the same).
    pub had_nan_literals: bool,
}

/// The keys of the envelope, in the order the reference writes them.
pub const KNOWN_KEYS: [&str; 14] = [
    "exchange_id",
    "exchange_type",
    "source_system",
    "entity_type",
    "natural_key",
    "request",
    "response",
    "observed_at_utc",
    "provenance",
    "content_sha256",
    "schema_version",
    "tags",
    "redactions_applied",
    "response_ref",
];

impl ExchangeRecord {
    /// Parse one pack line (NDJSON). Accepts the reference's `NaN` / `Infinity`
    /// literals for compatibility.
    pub fn parse_line(line: &str) -> Result<ParsedLine, LineError> {
        let (value, had_nan_literals) = match serde_json::from_str::<Value>(line) {
            Ok(v) => (v, false),
            Err(e) => match crate::nonfinite::quote_literals(line) {
                Some(fixed) => (
                    serde_json::from_str::<Value>(&fixed).map_err(|_| LineError::Json(e))?,
                    true,
                ),
                None => return Err(LineError::Json(e)),
            },
        };
        let Value::Object(map) = value else {
            return Err(LineError::Record {
                exchange_id: None,
                reason: "a record must be a JSON object".into(),
            });
        };
        let record = Self::from_map(map)?;
        Ok(ParsedLine {
            record,
            had_nan_literals,
        })
    }

    /// Build a record from a JSON object (missing optional keys take their defaults;
    /// the four required ones and `content_sha256` are errors when missing).
    pub fn from_map(map: Map<String, Value>) -> Result<Self, LineError> {
        let exchange_id = match map.get("exchange_id") {
            Some(Value::String(s)) => Some(s.clone()),
            _ => None,
        };
        let bad = |reason: String| LineError::Record {
            exchange_id: exchange_id.clone(),
            reason,
        };
        let required = |key: &str| match map.get(key) {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(_) => Err(bad(format!("`{key}` must be a string"))),
            None => Err(bad(format!("`{key}` is missing"))),
        };
        let id = required("exchange_id")?;
        let exchange_type = required("exchange_type")?;
        let source_system = required("source_system")?;
        let entity_type = required("entity_type")?;
        let hash_text = required("content_sha256")?;
        let content_sha256 = hash_text.parse::<ContentHash>().map_err(|_| {
            bad(format!(
                "`content_sha256` is not 64 hex characters: {hash_text:?}"
            ))
        })?;
        let natural_key = opt_string(&map, "natural_key").map_err(bad)?;
        let response_ref = opt_string(&map, "response_ref").map_err(bad)?;
        let observed_at_utc = match opt_string(&map, "observed_at_utc").map_err(bad)? {
            None => None,
            Some(text) => Some(crate::timestamp::parse(&text).ok_or_else(|| {
                bad(format!(
                    "`observed_at_utc` is not an ISO-8601 time with a UTC form \
                     (years 9999 and earlier in UTC): {text:?}"
                ))
            })?),
        };
        let provenance = match map.get("provenance") {
            None | Some(Value::Null) => None,
            Some(Value::Object(p)) => {
                let field = |k: &str| opt_string(p, k);
                Some(Provenance {
                    runner_name: field("runner_name").map_err(bad)?,
                    host: field("host").map_err(bad)?,
                    git_sha: field("git_sha").map_err(bad)?,
                    connector_version: field("connector_version").map_err(bad)?,
                })
            }
            Some(_) => return Err(bad("`provenance` must be an object or null".into())),
        };
        let schema_version = match map.get("schema_version") {
            None | Some(Value::Null) => 1,
            Some(Value::Number(n)) => n
                .as_i64()
                .ok_or_else(|| bad(format!("`schema_version` must be an integer, not {n}")))?,
            Some(_) => return Err(bad("`schema_version` must be an integer".into())),
        };
        let tags = string_list(&map, "tags").map_err(bad)?;
        let redactions_applied = string_list(&map, "redactions_applied").map_err(bad)?;
        // Move the payloads and the unknown keys out (no deep copies).
        let mut request = Value::Null;
        let mut response = Value::Null;
        let mut extra = Map::new();
        for (k, v) in map {
            match k.as_str() {
                "request" => request = v,
                "response" => response = v,
                k if KNOWN_KEYS.contains(&k) => {}
                _ => {
                    extra.insert(k, v);
                }
            }
        }
        Ok(ExchangeRecord {
            exchange_id: id,
            exchange_type,
            source_system,
            entity_type,
            natural_key,
            request,
            response,
            observed_at_utc,
            provenance,
            content_sha256,
            schema_version,
            tags,
            redactions_applied,
            response_ref,
            extra,
        })
    }

    /// The six hashed fields.
    pub fn hash_input(&self) -> crate::canonical::HashInput<'_> {
        self.line_fields(None).hashed()
    }

    /// Recompute the content hash from the six hashed fields.
    pub fn compute_hash(&self) -> ContentHash {
        self.hash_input().hash()
    }

    /// The natural key used for lookups: `None` for null and for `""`.
    pub fn lookup_key(&self) -> Option<&str> {
        self.natural_key.as_deref().filter(|k| !k.is_empty())
    }

    /// The index's `k`: `source_system|entity_type|natural_key` (empty when none).
    pub fn index_key(&self) -> String {
        format!(
            "{}|{}|{}",
            self.source_system,
            self.entity_type,
            self.natural_key.as_deref().unwrap_or("")
        )
    }

    /// `observed_at_utc` in the reference form, or `""` when missing.
    pub fn observed_at_text(&self) -> String {
        self.observed_at_utc
            .map(crate::timestamp::reference_text)
            .unwrap_or_default()
    }

    /// The record as one pack line (no newline), the way the reference writes it:
    /// `json.dumps(record, ensure_ascii=False)` with the keys of [`KNOWN_KEYS`] in
    /// that order, then unknown keys. Floats are spelled as Python prints them;
    /// a non-finite number is written as the string `"NaN"`/`"Infinity"`/
    /// `"-Infinity"` (which hashes the same): Fabric never writes the bare literals.
    pub fn to_line(&self) -> String {
        let observed = self.observed_at_utc.map(crate::timestamp::reference_text);
        self.line_fields(observed.as_deref())
            .to_line(self.extra.iter().map(|(k, v)| (k.as_str(), v)))
    }

    /// The record's fields, borrowed, `observed_at_utc` given in the reference
    /// form.
    fn line_fields<'a>(&'a self, observed_at_utc: Option<&'a str>) -> LineFields<'a, Value> {
        LineFields {
            exchange_id: &self.exchange_id,
            exchange_type: &self.exchange_type,
            source_system: &self.source_system,
            entity_type: &self.entity_type,
            natural_key: self.natural_key.as_deref(),
            request: &self.request,
            response: &self.response,
            observed_at_utc,
            provenance: self.provenance.as_ref(),
            content_sha256: self.content_sha256,
            schema_version: self.schema_version,
            tags: &self.tags,
            redactions_applied: &self.redactions_applied,
            response_ref: self.response_ref.as_deref(),
        }
    }
}

/// The fields of a pack line, borrowed; `T` is the form of the payloads (see
/// [`crate::tree`]; `str`: their texts already written).
#[derive(Debug, Clone, Copy)]
pub struct LineFields<'a, T: ?Sized> {
    /// `exchange_id`.
    pub exchange_id: &'a str,
    /// `exchange_type`.
    pub exchange_type: &'a str,
    /// `source_system`.
    pub source_system: &'a str,
    /// `entity_type`.
    pub entity_type: &'a str,
    /// `natural_key`.
    pub natural_key: Option<&'a str>,
    /// `request`.
    pub request: &'a T,
    /// `response`.
    pub response: &'a T,
    /// `observed_at_utc`, already in the reference form
    /// ([`crate::timestamp::reference_text`]).
    pub observed_at_utc: Option<&'a str>,
    /// `provenance`.
    pub provenance: Option<&'a Provenance>,
    /// `content_sha256`.
    pub content_sha256: ContentHash,
    /// `schema_version`.
    pub schema_version: i64,
    /// `tags`.
    pub tags: &'a [String],
    /// `redactions_applied`.
    pub redactions_applied: &'a [String],
    /// `response_ref`.
    pub response_ref: Option<&'a str>,
}

impl<'a, T: ?Sized> LineFields<'a, T> {
    /// The six hashed fields.
    pub fn hashed(&self) -> crate::canonical::HashFields<'a, &'a T> {
        crate::canonical::HashFields {
            exchange_type: self.exchange_type,
            source_system: self.source_system,
            entity_type: self.entity_type,
            natural_key: self.natural_key,
            request: self.request,
            response: self.response,
        }
    }
}

impl<'a, T: Tree> LineFields<'a, T> {
    /// The pack line (see [`ExchangeRecord::to_line`]), `extra` the unknown keys
    /// in the order they are written.
    pub fn to_line(&self, extra: impl Iterator<Item = (&'a str, &'a T)>) -> String {
        self.to_line_with_capacity(512, extra)
    }

    /// [`LineFields::to_line`] in a string made for `capacity` bytes (a good
    /// guess saves growing it).
    pub fn to_line_with_capacity(
        &self,
        capacity: usize,
        extra: impl Iterator<Item = (&'a str, &'a T)>,
    ) -> String {
        let mut out = String::with_capacity(capacity);
        self.write_known(&mut out, write_py);
        write_extra(&mut out, extra);
        out
    }
}

impl<'a> LineFields<'a, str> {
    /// Append the pack line ([`LineFields::to_line`]) to `out`, the payloads
    /// already written in the pack line's spelling ([`write_py`]'s text of
    /// their values).
    pub fn write_line_of_texts<T: Tree + 'a>(
        &self,
        out: &mut String,
        extra: impl Iterator<Item = (&'a str, &'a T)>,
    ) {
        self.write_known(out, String::push_str);
        write_extra(out, extra);
    }
}

impl<T: ?Sized> LineFields<'_, T> {
    /// The pack line up to the unknown keys, the payloads by `payload`.
    fn write_known(&self, out: &mut String, payload: impl Fn(&mut String, &T)) {
        out.push_str("{\"exchange_id\": ");
        write_escaped(out, self.exchange_id);
        out.push_str(", \"exchange_type\": ");
        write_escaped(out, self.exchange_type);
        out.push_str(", \"source_system\": ");
        write_escaped(out, self.source_system);
        out.push_str(", \"entity_type\": ");
        write_escaped(out, self.entity_type);
        out.push_str(", \"natural_key\": ");
        write_opt_str(out, self.natural_key);
        out.push_str(", \"request\": ");
        payload(out, self.request);
        out.push_str(", \"response\": ");
        payload(out, self.response);
        out.push_str(", \"observed_at_utc\": ");
        write_opt_str(out, self.observed_at_utc);
        out.push_str(", \"provenance\": ");
        match self.provenance {
            None => out.push_str("null"),
            Some(p) => {
                out.push_str("{\"runner_name\": ");
                write_opt_str(out, p.runner_name.as_deref());
                out.push_str(", \"host\": ");
                write_opt_str(out, p.host.as_deref());
                out.push_str(", \"git_sha\": ");
                write_opt_str(out, p.git_sha.as_deref());
                out.push_str(", \"connector_version\": ");
                write_opt_str(out, p.connector_version.as_deref());
                out.push('}');
            }
        }
        out.push_str(", \"content_sha256\": \"");
        self.content_sha256.write_hex(out);
        out.push_str("\", \"schema_version\": ");
        let _ = write!(out, "{}", self.schema_version);
        out.push_str(", \"tags\": ");
        write_str_list(out, self.tags);
        out.push_str(", \"redactions_applied\": ");
        write_str_list(out, self.redactions_applied);
        out.push_str(", \"response_ref\": ");
        write_opt_str(out, self.response_ref);
    }
}

/// The unknown keys of a pack line and its closing brace.
fn write_extra<'a, T: Tree + 'a>(out: &mut String, extra: impl Iterator<Item = (&'a str, &'a T)>) {
    for (k, v) in extra {
        out.push_str(", ");
        write_escaped(out, k);
        out.push_str(": ");
        write_py(out, v);
    }
    out.push('}');
}

/// Append `value` (a parsed value, or a tree of the lean reader: see
/// [`crate::tree`]) as Python's `json.dumps(value, ensure_ascii=False)` writes it.
pub fn write_py<T: Tree>(out: &mut String, value: &T) {
    match value.kind() {
        Kind::Null => out.push_str("null"),
        Kind::Bool(true) => out.push_str("true"),
        Kind::Bool(false) => out.push_str("false"),
        Kind::Num(n) => write_py_number(out, n),
        Kind::Str(s) => write_escaped(out, s),
        Kind::Plain(s) => write_plain(out, s),
        Kind::Arr => {
            out.push('[');
            for (i, item) in value.items().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_py(out, item);
            }
            out.push(']');
        }
        Kind::Obj => {
            out.push('{');
            for (i, (k, v)) in value.entries().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_escaped(out, k);
                out.push_str(": ");
                write_py(out, v);
            }
            out.push('}');
        }
    }
}

/// Append the JSON number written as `text` the way [`write_py`] spells it.
fn write_py_number(out: &mut String, text: &str) {
    write_python_number(out, text, |out, x| {
        out.push_str(&fabric_core::json::python_float_repr(x));
    });
}

fn write_opt_str(out: &mut String, s: Option<&str>) {
    match s {
        Some(s) => write_escaped(out, s),
        None => out.push_str("null"),
    }
}

fn write_str_list(out: &mut String, items: &[String]) {
    out.push('[');
    for (i, s) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_escaped(out, s);
    }
    out.push(']');
}

fn opt_string(map: &Map<String, Value>, key: &str) -> Result<Option<String>, String> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("`{key}` must be a string or null")),
    }
}

fn string_list(map: &Map<String, Value>, key: &str) -> Result<Vec<String>, String> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                _ => Err(format!("`{key}` must be an array of strings")),
            })
            .collect(),
        Some(_) => Err(format!("`{key}` must be an array of strings")),
    }
}
