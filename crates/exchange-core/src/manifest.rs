//! `manifest.json`: a dataset's configuration, parsed from and written to text.
//!
//! Reading the file (with its size limit) and saving it atomically belong to the
//! caller (exchange-sync's `ManifestFile`); this module never touches a file.

use std::path::Path;
use std::str::FromStr;

use serde_json::{Map, Value, json};

use crate::error::{Error, Result};

/// The file name of a manifest inside a dataset folder.
pub const MANIFEST_FILE: &str = "manifest.json";

/// The sync scope of a manifest: only rows with this `source_system` and
/// `entity_type` are read, compared or exported.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Scope {
    /// `manifest.source_system`.
    pub source_system: String,
    /// `manifest.entity_type`.
    pub entity_type: String,
}

/// Where the SQL mirror lives (`sql_target`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlTarget {
    /// SQL schema (`lake`).
    pub schema: String,
    /// Table name (`RawExchangeRecord`).
    pub table: String,
    /// Kept as read; unused (the reference ignores it too).
    pub natural_key_column: Option<String>,
    /// Kept as read; unused.
    pub hash_column: String,
}

impl Default for SqlTarget {
    fn default() -> Self {
        SqlTarget {
            schema: "lake".into(),
            table: "RawExchangeRecord".into(),
            natural_key_column: None,
            hash_column: "content_sha256".into(),
        }
    }
}

impl SqlTarget {
    /// Check both names: letters, digits or `_`, not starting with a digit.
    pub fn validate(&self) -> Result<()> {
        for (what, name) in [
            ("sql_target.schema", &self.schema),
            ("sql_target.table", &self.table),
        ] {
            let ok = !name.is_empty()
                && name.chars().all(|c| c.is_alphanumeric() || c == '_')
                && !name.chars().next().is_some_and(|c| c.is_ascii_digit());
            if !ok {
                return Err(Error::Invalid {
                    what: what.into(),
                    reason: format!(
                        "{name:?} must be letters, digits or `_`, not starting with a digit"
                    ),
                });
            }
        }
        // SQL Server names are at most 128 characters (`sysname`), and the mirror's
        // constraint and index names add up to 21 to the table's
        // (`CK_<table>_ContentHashLength`): check them here, on every backend, so a
        // manifest that works on one works on the other.
        for (what, name, max) in [
            ("sql_target.schema", &self.schema, MAX_SCHEMA_NAME),
            ("sql_target.table", &self.table, MAX_TABLE_NAME),
        ] {
            let length = name.encode_utf16().count();
            if length > max {
                return Err(Error::Invalid {
                    what: what.into(),
                    reason: format!(
                        "{name:?} is {length} characters long; the limit is {max} (SQL Server \
                         names are at most 128 characters, and the mirror's index names \
                         add up to 21 to the table's)"
                    ),
                });
            }
        }
        Ok(())
    }
}

/// The longest `sql_target.schema`: SQL Server's 128-character `sysname`.
pub const MAX_SCHEMA_NAME: usize = 128;

/// The longest `sql_target.table`: 128 minus the 21 characters the longest derived
/// name (`CK_<table>_ContentHashLength`, `IX_<table>_Scope_ContentHash`) adds.
pub const MAX_TABLE_NAME: usize = 107;

/// Which way a sync goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Import, then export.
    Bidirectional,
    /// Import only.
    JsonToSql,
    /// Export only.
    SqlToJson,
}

impl Direction {
    /// Every direction, in the order they are listed in help and errors.
    pub const ALL: [Direction; 3] = [
        Direction::Bidirectional,
        Direction::JsonToSql,
        Direction::SqlToJson,
    ];

    /// The spelling used in manifests, flags and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Bidirectional => "bidirectional",
            Direction::JsonToSql => "json_to_sql",
            Direction::SqlToJson => "sql_to_json",
        }
    }
}

impl FromStr for Direction {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "bidirectional" => Ok(Direction::Bidirectional),
            "json_to_sql" => Ok(Direction::JsonToSql),
            "sql_to_json" => Ok(Direction::SqlToJson),
            _ => Err(Error::Invalid {
                what: "direction".into(),
                reason: format!("{s:?} is not one of bidirectional, json_to_sql, sql_to_json"),
            }),
        }
    }
}

/// What to do when a pack record and a SQL row share a natural key but not content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConflictStrategy {
    /// The more recent `observed_at_utc` wins (a tie goes to JSON).
    PreferNewest,
    /// Keep the SQL row.
    PreferSql,
    /// Overwrite the SQL row.
    PreferJson,
    /// Abort the command before anything is written.
    Fail,
}

impl ConflictStrategy {
    /// Every strategy, in the order they are listed in help and errors.
    pub const ALL: [ConflictStrategy; 4] = [
        ConflictStrategy::PreferNewest,
        ConflictStrategy::PreferSql,
        ConflictStrategy::PreferJson,
        ConflictStrategy::Fail,
    ];

    /// The spelling used in manifests, flags and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            ConflictStrategy::PreferNewest => "prefer_newest",
            ConflictStrategy::PreferSql => "prefer_sql",
            ConflictStrategy::PreferJson => "prefer_json",
            ConflictStrategy::Fail => "fail",
        }
    }
}

impl FromStr for ConflictStrategy {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "prefer_newest" => Ok(ConflictStrategy::PreferNewest),
            "prefer_sql" => Ok(ConflictStrategy::PreferSql),
            "prefer_json" => Ok(ConflictStrategy::PreferJson),
            "fail" => Ok(ConflictStrategy::Fail),
            _ => Err(Error::Invalid {
                what: "conflict strategy".into(),
                reason: format!("{s:?} is not one of prefer_newest, prefer_sql, prefer_json, fail"),
            }),
        }
    }
}

/// `redaction_policy`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedactionPolicy {
    /// Whether `add` redacts at all (on unless the manifest says `false`; then
    /// `add` warns that records are stored unredacted).
    pub enabled: bool,
    /// Custom regexes, applied after the built-in patterns.
    pub patterns: Vec<String>,
    /// Sensitive header names, added to the built-in list.
    pub headers_to_redact: Vec<String>,
}

impl Default for RedactionPolicy {
    fn default() -> Self {
        RedactionPolicy {
            enabled: true,
            patterns: Vec::new(),
            headers_to_redact: [
                "authorization",
                "cookie",
                "set-cookie",
                "x-api-key",
                "api-key",
                "bearer",
            ]
            .map(String::from)
            .to_vec(),
        }
    }
}

/// A dataset manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    /// The dataset's name (also its folder's name, normally).
    pub dataset_name: String,
    /// Free text.
    pub description: String,
    /// Free text.
    pub owner: String,
    /// Default `exchange_type` of records.
    pub exchange_type: String,
    /// Sync scope, first half.
    pub source_system: String,
    /// Sync scope, second half.
    pub entity_type: String,
    /// The SQL table.
    pub sql_target: SqlTarget,
    /// Default direction.
    pub direction_default: Direction,
    /// Default conflict strategy.
    pub conflict_strategy: ConflictStrategy,
    /// Redaction for `add`.
    pub redaction_policy: RedactionPolicy,
    /// Kept as read; only `--encrypt` counts.
    pub encryption_policy: Value,
    /// When first saved (reference form), empty until then.
    pub created_at: String,
    /// When last saved.
    pub updated_at: String,
    /// Manifest version (1).
    pub version: i64,
}

fn default_encryption_policy() -> Value {
    json!({"enabled": false, "algorithm": "aes-256-gcm", "key_source": "env",
           "key_env_var": "SNAPSHOT_ENCRYPTION_KEY", "key_file_path": null})
}

impl Manifest {
    /// A new manifest with the defaults of `docs/formats/pack.md`.
    pub fn new(
        dataset_name: &str,
        exchange_type: &str,
        source_system: &str,
        entity_type: &str,
    ) -> Self {
        Manifest {
            dataset_name: dataset_name.into(),
            description: String::new(),
            owner: String::new(),
            exchange_type: exchange_type.into(),
            source_system: source_system.into(),
            entity_type: entity_type.into(),
            sql_target: SqlTarget::default(),
            direction_default: Direction::Bidirectional,
            conflict_strategy: ConflictStrategy::PreferNewest,
            redaction_policy: RedactionPolicy::default(),
            encryption_policy: default_encryption_policy(),
            created_at: String::new(),
            updated_at: String::new(),
            version: 1,
        }
    }

    /// The sync scope.
    pub fn scope(&self) -> Scope {
        Scope {
            source_system: self.source_system.clone(),
            entity_type: self.entity_type.clone(),
        }
    }

    /// Parse manifest text; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let bad = |reason: String| Error::Manifest {
            path: path.to_path_buf(),
            reason,
        };
        let value: Value = serde_json::from_str(text).map_err(|source| Error::Json {
            path: path.to_path_buf(),
            source,
        })?;
        let Value::Object(map) = value else {
            return Err(bad("must be a JSON object".into()));
        };
        let required = |key: &str| match map.get(key) {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(_) => Err(bad(format!("`{key}` must be a string"))),
            None => Err(bad(format!("required key `{key}` is missing"))),
        };
        let optional = |key: &str| match map.get(key) {
            Some(Value::String(s)) => Ok(s.clone()),
            None | Some(Value::Null) => Ok(String::new()),
            Some(_) => Err(bad(format!("`{key}` must be a string"))),
        };
        let dataset_name = required("dataset_name")?;
        check_dataset_name(&dataset_name).map_err(|why| bad(format!("`dataset_name` {why}")))?;
        let mut m = Manifest::new(
            &dataset_name,
            &required("exchange_type")?,
            &required("source_system")?,
            &required("entity_type")?,
        );
        m.description = optional("description")?;
        m.owner = optional("owner")?;
        m.created_at = optional("created_at")?;
        m.updated_at = optional("updated_at")?;
        if let Some(Value::Number(n)) = map.get("version") {
            m.version = n.as_i64().unwrap_or(1);
        }
        if let Some(Value::Object(t)) = map.get("sql_target") {
            let s = |k: &str, d: &str| match t.get(k) {
                Some(Value::String(s)) => s.clone(),
                _ => d.to_owned(),
            };
            m.sql_target = SqlTarget {
                schema: s("schema", "lake"),
                table: s("table", "RawExchangeRecord"),
                natural_key_column: t
                    .get("natural_key_column")
                    .and_then(Value::as_str)
                    .map(String::from),
                hash_column: s("hash_column", "content_sha256"),
            };
        }
        if let Some(Value::Object(p)) = map.get("sync_policy") {
            if let Some(Value::String(d)) = p.get("direction_default") {
                m.direction_default = d
                    .parse()
                    .map_err(|_| bad(format!("sync_policy.direction_default {d:?} is unknown")))?;
            }
            if let Some(Value::String(c)) = p.get("conflict_strategy") {
                m.conflict_strategy = c
                    .parse()
                    .map_err(|_| bad(format!("sync_policy.conflict_strategy {c:?} is unknown")))?;
            }
        }
        if let Some(Value::Object(p)) = map.get("redaction_policy") {
            let list = |k: &str| -> Result<Option<Vec<String>>> {
                match p.get(k) {
                    None | Some(Value::Null) => Ok(None),
                    Some(Value::Array(items)) => items
                        .iter()
                        .map(|v| {
                            v.as_str().map(String::from).ok_or_else(|| {
                                bad(format!("redaction_policy.{k} must hold strings"))
                            })
                        })
                        .collect::<Result<Vec<_>>>()
                        .map(Some),
                    Some(_) => Err(bad(format!("redaction_policy.{k} must be an array"))),
                }
            };
            // On unless the manifest says `false` in so many words.
            m.redaction_policy.enabled = p.get("enabled").and_then(Value::as_bool).unwrap_or(true);
            if let Some(v) = list("patterns")? {
                m.redaction_policy.patterns = v;
            }
            if let Some(v) = list("headers_to_redact")? {
                m.redaction_policy.headers_to_redact = v;
            }
        }
        if let Some(v @ Value::Object(_)) = map.get("encryption_policy") {
            m.encryption_policy = v.clone();
        }
        Ok(m)
    }

    /// The manifest as the reference writes it (2-space indent, no trailing newline).
    pub fn to_text(&self) -> String {
        let mut map = Map::new();
        map.insert("dataset_name".into(), json!(self.dataset_name));
        map.insert("description".into(), json!(self.description));
        map.insert("owner".into(), json!(self.owner));
        map.insert("exchange_type".into(), json!(self.exchange_type));
        map.insert("source_system".into(), json!(self.source_system));
        map.insert("entity_type".into(), json!(self.entity_type));
        map.insert(
            "sql_target".into(),
            json!({"schema": self.sql_target.schema, "table": self.sql_target.table,
                   "natural_key_column": self.sql_target.natural_key_column,
                   "hash_column": self.sql_target.hash_column}),
        );
        map.insert(
            "sync_policy".into(),
            json!({"direction_default": self.direction_default.as_str(),
                   "conflict_strategy": self.conflict_strategy.as_str()}),
        );
        map.insert(
            "redaction_policy".into(),
            json!({"enabled": self.redaction_policy.enabled,
                   "patterns": self.redaction_policy.patterns,
                   "headers_to_redact": self.redaction_policy.headers_to_redact}),
        );
        map.insert("encryption_policy".into(), self.encryption_policy.clone());
        map.insert("created_at".into(), json!(self.created_at));
        map.insert("updated_at".into(), json!(self.updated_at));
        map.insert("version".into(), json!(self.version));
        serde_json::to_string_pretty(&Value::Object(map)).unwrap_or_default()
    }

    /// Set `updated_at` (and `created_at` when empty) to `now`, as a save does.
    pub fn stamp(&mut self, now: time::OffsetDateTime) {
        let stamp = crate::timestamp::reference_text(now);
        if self.created_at.is_empty() {
            self.created_at = stamp.clone();
        }
        self.updated_at = stamp;
    }
}

/// The longest `dataset_name`, in bytes (a folder name, with room for the
/// temporary `.NAME.unpack-XXXXXX` beside it within the usual 255-byte limit).
pub const MAX_DATASET_NAME: usize = 200;

/// Windows device names: a file or folder of that name (with any extension) is the
/// device, not a path.
const DEVICE_NAMES: &[&str] = &[
    "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$", "COM0", "COM1", "COM2", "COM3", "COM4",
    "COM5", "COM6", "COM7", "COM8", "COM9", "LPT0", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6",
    "LPT7", "LPT8", "LPT9", "COM¹", "COM²", "COM³", "LPT¹", "LPT²", "LPT³",
];

/// Whether `name` can be the dataset's folder name on every system a pack travels
/// to: `OUT/<dataset_name>/` (unpack, init) must stay one folder inside `OUT`.
/// Refused: empty, `.`/`..` or any leading dot, `/` `\` `:` and the other
/// characters Windows forbids, control characters (NUL...), a trailing space or
/// dot, device names (`CON`, `NUL`, `COM1`, `aux.txt`...), more than
/// [`MAX_DATASET_NAME`] bytes. The error says why (for a message naming the field).
pub fn check_dataset_name(name: &str) -> std::result::Result<(), String> {
    let why = if name.is_empty() {
        "is empty".to_owned()
    } else if name.len() > MAX_DATASET_NAME {
        format!("is {} bytes long (at most {MAX_DATASET_NAME})", name.len())
    } else if let Some(c) = name.chars().find(|c| {
        c.is_control() || matches!(c, '/' | '\\' | ':' | '<' | '>' | '"' | '|' | '?' | '*')
    }) {
        format!("{name:?} holds {c:?}: it must be a single folder name")
    } else if name.starts_with('.') {
        format!("{name:?} starts with a dot (`.`, `..` and hidden folders are refused)")
    } else if name.ends_with(['.', ' ']) {
        format!("{name:?} ends with a dot or a space")
    } else if DEVICE_NAMES.iter().any(|d| {
        let stem = name.split('.').next().unwrap_or(name).trim_end();
        stem.eq_ignore_ascii_case(d)
    }) {
        format!("{name:?} is a device name on Windows")
    } else {
        return Ok(());
    };
    Err(why)
}
