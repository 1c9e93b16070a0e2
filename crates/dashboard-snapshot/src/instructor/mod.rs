//! The default instructor projection set over plain JSON payloads, and the
//! payload cursor that names the oracle and JSON pointer of every shape error.

/// A JSON object built by moving each value in (`Value::from`), with no deep copy
/// of nested arrays (`json!` serializes its values again).
macro_rules! obj {
    ($($key:literal => $value:expr),* $(,)?) => {{
        let mut map = serde_json::Map::new();
        $(map.insert($key.to_owned(), serde_json::Value::from($value));)*
        serde_json::Value::Object(map)
    }};
}

mod assessments;
mod objectives;
mod progress;
pub mod rows;
mod summary;
mod support;

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::projection::{DeriveError, Projection};

pub use crate::compact::{StudentRow, SupportRows};
pub use assessments::{Assessments, HISTOGRAM_BINS};
pub use objectives::{ChallengingObjectives, LEVELS, dominant_level};
pub use progress::Progress;
pub use summary::{Summary, class_proficiency};
pub use support::{BUCKETS, StudentSupport, categorize};

/// The instructor set in registry order: summary, progress, student_support,
/// assessments, challenging_objectives.
pub fn all() -> Vec<Arc<dyn Projection>> {
    vec![
        Arc::new(Summary),
        Arc::new(Progress),
        Arc::new(StudentSupport),
        Arc::new(Assessments),
        Arc::new(ChallengingObjectives),
    ]
}

/// Half away from zero to one decimal (done once, in the projection).
pub fn round1(x: f64) -> f64 {
    let r = (x * 10.0).round() / 10.0;
    if r == 0.0 { 0.0 } else { r }
}

/// A JSON number for a float (shortest round-trip spelling, `null` if not finite).
pub(crate) fn num(x: f64) -> Value {
    serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
}

/// Mean of `values`, `None` when empty.
pub(crate) fn mean(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    let (sum, n) = values
        .into_iter()
        .fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    (n > 0).then(|| sum / n as f64)
}

/// A position inside an oracle payload; errors carry the oracle key and pointer.
#[derive(Debug, Clone)]
pub(crate) struct Node<'a> {
    oracle: &'a str,
    pointer: String,
    value: &'a Value,
}

fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

impl<'a> Node<'a> {
    pub(crate) fn root(oracle: &'a str, value: &'a Value) -> Self {
        Node {
            oracle,
            pointer: String::new(),
            value,
        }
    }

    pub(crate) fn err(&self, message: impl Into<String>) -> DeriveError {
        DeriveError::InvalidData {
            oracle: self.oracle.to_owned(),
            pointer: if self.pointer.is_empty() {
                "/".into()
            } else {
                self.pointer.clone()
            },
            message: message.into(),
        }
    }

    fn child(&self, segment: &str, value: &'a Value) -> Node<'a> {
        Node {
            oracle: self.oracle,
            pointer: format!("{}/{}", self.pointer, escape(segment)),
            value,
        }
    }

    fn object(&self) -> Result<&'a Map<String, Value>, DeriveError> {
        self.value
            .as_object()
            .ok_or_else(|| self.err("expected an object"))
    }

    /// Field `key`, `None` when missing or null.
    pub(crate) fn get(&self, key: &str) -> Result<Option<Node<'a>>, DeriveError> {
        Ok(self
            .object()?
            .get(key)
            .filter(|v| !v.is_null())
            .map(|v| self.child(key, v)))
    }

    /// Field `key`, required.
    pub(crate) fn req(&self, key: &str) -> Result<Node<'a>, DeriveError> {
        match self.object()?.get(key) {
            Some(v) if !v.is_null() => Ok(self.child(key, v)),
            _ => Err(self.err(format!("missing field {key}"))),
        }
    }

    /// Array elements.
    pub(crate) fn items(&self) -> Result<Vec<Node<'a>>, DeriveError> {
        let list = self
            .value
            .as_array()
            .ok_or_else(|| self.err("expected an array"))?;
        Ok(list
            .iter()
            .enumerate()
            .map(|(i, v)| self.child(&i.to_string(), v))
            .collect())
    }

    /// Each element of the array payload of `oracle`, parsed and handed to `f` one
    /// at a time (no tree of the whole payload); returns how many there were.
    pub(crate) fn each_item(
        oracle: &'a str,
        payload: &crate::payload::Payload,
        mut f: impl FnMut(Node<'_>) -> Result<(), DeriveError>,
    ) -> Result<usize, DeriveError> {
        let items = crate::payload::elements(payload.text())
            .ok_or_else(|| Node::root(oracle, &Value::Null).err("expected an array"))?;
        let count = items.len();
        for (i, raw) in items.into_iter().enumerate() {
            let value: Value =
                serde_json::from_str(raw).map_err(|e| DeriveError::Failed(e.to_string()))?;
            f(Node {
                oracle,
                pointer: format!("/{i}"),
                value: &value,
            })?;
        }
        Ok(count)
    }

    /// Object entries in document order.
    pub(crate) fn entries(&self) -> Result<Vec<(&'a str, Node<'a>)>, DeriveError> {
        Ok(self
            .object()?
            .iter()
            .map(|(k, v)| (k.as_str(), self.child(k, v)))
            .collect())
    }

    pub(crate) fn f64(&self) -> Result<f64, DeriveError> {
        self.value
            .as_f64()
            .filter(|x| x.is_finite())
            .ok_or_else(|| self.err("expected a number"))
    }

    pub(crate) fn u64(&self) -> Result<u64, DeriveError> {
        self.value
            .as_u64()
            .ok_or_else(|| self.err("expected a non-negative integer"))
    }

    /// The value of field `key` without building a child pointer (`None` when
    /// missing or null).
    fn leaf(&self, key: &str) -> Result<Option<&'a Value>, DeriveError> {
        Ok(self.object()?.get(key).filter(|v| !v.is_null()))
    }

    /// An error about field `key` (the pointer is only built here).
    fn leaf_err(&self, key: &str, message: impl Into<String>) -> DeriveError {
        DeriveError::InvalidData {
            oracle: self.oracle.to_owned(),
            pointer: format!("{}/{}", self.pointer, escape(key)),
            message: message.into(),
        }
    }

    /// Required non-negative integer field.
    pub(crate) fn req_u64(&self, key: &str) -> Result<u64, DeriveError> {
        match self.leaf(key)? {
            None => Err(self.leaf_err(key, "missing field")),
            Some(v) => v
                .as_u64()
                .ok_or_else(|| self.leaf_err(key, "expected a non-negative integer")),
        }
    }

    /// Optional non-negative integer field.
    pub(crate) fn opt_u64(&self, key: &str) -> Result<Option<u64>, DeriveError> {
        self.leaf(key)?
            .map(|v| {
                v.as_u64()
                    .ok_or_else(|| self.leaf_err(key, "expected a non-negative integer"))
            })
            .transpose()
    }

    /// Optional string field.
    pub(crate) fn opt_str(&self, key: &str) -> Result<Option<&'a str>, DeriveError> {
        self.leaf(key)?
            .map(|v| {
                v.as_str()
                    .ok_or_else(|| self.leaf_err(key, "expected a string"))
            })
            .transpose()
    }

    /// Optional number field.
    pub(crate) fn opt_f64(&self, key: &str) -> Result<Option<f64>, DeriveError> {
        self.leaf(key)?
            .map(|v| {
                v.as_f64()
                    .filter(|x| x.is_finite())
                    .ok_or_else(|| self.leaf_err(key, "expected a number"))
            })
            .transpose()
    }

    /// Optional percentage field (0-100 scale).
    pub(crate) fn opt_pct(&self, key: &str) -> Result<Option<f64>, DeriveError> {
        match self.opt_f64(key)? {
            Some(x) if !(0.0..=100.0).contains(&x) => {
                Err(self.leaf_err(key, format!("{x} is outside the 0-100 scale")))
            }
            other => Ok(other),
        }
    }

    /// Optional RFC 3339 timestamp field, normalised to `YYYY-MM-DDTHH:MM:SSZ`.
    pub(crate) fn opt_time(
        &self,
        key: &str,
    ) -> Result<Option<(time::OffsetDateTime, String)>, DeriveError> {
        match self.opt_str(key)? {
            None => Ok(None),
            Some(text) => {
                let t = crate::contract::parse_utc(text)
                    .ok_or_else(|| self.leaf_err(key, "expected an RFC 3339 timestamp"))?;
                Ok(Some((t, crate::contract::format_utc(t))))
            }
        }
    }
}
