//! Snapshot metadata (the original system's `snapshotMetadataSchema`), validated before
//! anything is stored.

use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::json::py_float;

/// Where a version's data came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Source {
    /// Fetched from an API (the default for reports computed by Fabric).
    Api,
    /// Entered or edited by a person.
    Manual,
    /// Imported from files (`fabric snapshot import-reports`).
    Import,
    /// Written by a migration.
    Migration,
}

impl Source {
    /// Every source, in the order they are listed in messages.
    pub const ALL: [Source; 4] = [
        Source::Api,
        Source::Manual,
        Source::Import,
        Source::Migration,
    ];

    /// The stored spelling: `api`, `manual`, `import`, `migration`.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Api => "api",
            Source::Manual => "manual",
            Source::Import => "import",
            Source::Migration => "migration",
        }
    }

    /// Parse the stored spelling (exact, lower-case).
    pub fn parse(text: &str) -> Result<Self, MetadataError> {
        Source::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or_else(|| MetadataError {
                field: "source",
                reason: format!("{text:?} is not one of api, manual, import, migration"),
            })
    }
}

/// A metadata field that is missing, mistyped or out of range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("metadata field `{field}`: {reason}")]
pub struct MetadataError {
    /// The offending field, e.g. `confidence`.
    pub field: &'static str,
    /// What is wrong with it, naming the value.
    pub reason: String,
}

/// What is known about a version's data besides the data itself.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotMetadata {
    /// Where the data came from.
    pub source: Source,
    /// When the data was retrieved: an RFC 3339 date-time with offset.
    pub retrieved_at: String,
    /// How far the data can be trusted, in `[0, 1]`.
    pub confidence: f64,
    /// Who provided the data.
    pub data_provider: Option<String>,
    /// The provider's API version.
    pub api_version: Option<String>,
    /// How long producing the data took, in milliseconds (>= 0).
    pub processing_ms: Option<f64>,
    /// Warnings raised while producing the data.
    pub warnings: Vec<String>,
}

impl SnapshotMetadata {
    /// Metadata with the required fields and nothing else; not yet validated.
    pub fn new(source: Source, retrieved_at: OffsetDateTime, confidence: f64) -> Self {
        SnapshotMetadata {
            source,
            retrieved_at: super::format_instant(retrieved_at),
            confidence,
            data_provider: None,
            api_version: None,
            processing_ms: None,
            warnings: Vec::new(),
        }
    }

    /// Check every field; the first problem found is returned.
    pub fn validate(&self) -> Result<(), MetadataError> {
        if OffsetDateTime::parse(&self.retrieved_at, &Rfc3339).is_err() {
            return Err(MetadataError {
                field: "retrieved_at",
                reason: format!(
                    "{:?} is not an RFC 3339 date-time with offset",
                    self.retrieved_at
                ),
            });
        }
        if !(self.confidence.is_finite() && (0.0..=1.0).contains(&self.confidence)) {
            return Err(MetadataError {
                field: "confidence",
                reason: format!("{} is outside [0, 1]", self.confidence),
            });
        }
        if let Some(ms) = self.processing_ms
            && !(ms.is_finite() && ms >= 0.0)
        {
            return Err(MetadataError {
                field: "processing_ms",
                reason: format!("{ms} is not a duration (finite, >= 0)"),
            });
        }
        for (field, value) in [
            ("data_provider", &self.data_provider),
            ("api_version", &self.api_version),
        ] {
            if value.as_deref().is_some_and(str::is_empty) {
                return Err(MetadataError {
                    field,
                    reason: "is empty (leave it out instead)".to_owned(),
                });
            }
        }
        Ok(())
    }

    /// The stored JSON object: keys `source`, `retrieved_at`, `confidence`, then the
    /// optional ones that are set, `warnings` always (possibly empty).
    pub fn to_json(&self) -> Value {
        let mut map = Map::new();
        map.insert("source".into(), Value::from(self.source.as_str()));
        map.insert(
            "retrieved_at".into(),
            Value::from(self.retrieved_at.clone()),
        );
        map.insert("confidence".into(), float(self.confidence));
        if let Some(p) = &self.data_provider {
            map.insert("data_provider".into(), Value::from(p.clone()));
        }
        if let Some(v) = &self.api_version {
            map.insert("api_version".into(), Value::from(v.clone()));
        }
        if let Some(ms) = self.processing_ms {
            map.insert("processing_ms".into(), float(ms));
        }
        map.insert(
            "warnings".into(),
            Value::Array(self.warnings.iter().cloned().map(Value::from).collect()),
        );
        Value::Object(map)
    }

    /// Read and validate a metadata object (unknown fields are refused, so a typo
    /// cannot silently drop a value).
    pub fn from_json(value: &Value) -> Result<Self, MetadataError> {
        let map = value.as_object().ok_or_else(|| MetadataError {
            field: "(metadata)",
            reason: "is not a JSON object".to_owned(),
        })?;
        const KNOWN: [&str; 7] = [
            "source",
            "retrieved_at",
            "confidence",
            "data_provider",
            "api_version",
            "processing_ms",
            "warnings",
        ];
        if let Some(unknown) = map.keys().find(|k| !KNOWN.contains(&k.as_str())) {
            return Err(MetadataError {
                field: "(metadata)",
                reason: format!("unknown field {unknown:?}"),
            });
        }
        let source = Source::parse(required_str(map, "source")?)?;
        let retrieved_at = required_str(map, "retrieved_at")?.to_owned();
        let confidence = number(map, "confidence")?.ok_or_else(|| missing("confidence"))?;
        let data_provider = optional_str(map, "data_provider")?;
        let api_version = optional_str(map, "api_version")?;
        let processing_ms = number(map, "processing_ms")?;
        let warnings = match map.get("warnings") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|w| {
                    w.as_str().map(str::to_owned).ok_or_else(|| MetadataError {
                        field: "warnings",
                        reason: format!("element {w} is not a string"),
                    })
                })
                .collect::<Result<_, _>>()?,
            Some(other) => {
                return Err(MetadataError {
                    field: "warnings",
                    reason: format!("{other} is not an array of strings"),
                });
            }
        };
        let meta = SnapshotMetadata {
            source,
            retrieved_at,
            confidence,
            data_provider,
            api_version,
            processing_ms,
            warnings,
        };
        meta.validate()?;
        Ok(meta)
    }
}

fn float(x: f64) -> Value {
    py_float(x).map_or(Value::Null, Value::Number)
}

fn missing(field: &'static str) -> MetadataError {
    MetadataError {
        field,
        reason: "is missing".to_owned(),
    }
}

fn required_str<'a>(
    map: &'a Map<String, Value>,
    field: &'static str,
) -> Result<&'a str, MetadataError> {
    match map.get(field) {
        Some(Value::String(s)) => Ok(s),
        None | Some(Value::Null) => Err(missing(field)),
        Some(other) => Err(MetadataError {
            field,
            reason: format!("{other} is not a string"),
        }),
    }
}

fn optional_str(
    map: &Map<String, Value>,
    field: &'static str,
) -> Result<Option<String>, MetadataError> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(MetadataError {
            field,
            reason: format!("{other} is not a string"),
        }),
    }
}

fn number(map: &Map<String, Value>, field: &'static str) -> Result<Option<f64>, MetadataError> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_str()
            .parse::<f64>()
            .map(Some)
            .map_err(|_| MetadataError {
                field,
                reason: format!("{n} is not a number"),
            }),
        Some(other) => Err(MetadataError {
            field,
            reason: format!("{other} is not a number"),
        }),
    }
}
