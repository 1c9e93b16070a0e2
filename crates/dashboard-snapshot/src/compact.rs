//! The student rows of the `student_support` projection held typed when a bundle is
//! read for export ([`crate::SnapshotBundle::from_reader_without_payloads`]): about
//! 150 bytes a student instead of a JSON object tree. The rows are read strictly:
//! exactly the six fields, each in the spelling the projection writes, so their
//! canonical JSON (for the parity digest) and their CSV cells are those of the JSON
//! they were read from ([`RowFields::into_row`]). A row of any other shape is kept
//! as JSON, and its whole projection with it, as a whole read holds it.

use serde::Serialize;
use serde_json::{Map, Number, Value};

use fabric_core::json::{CanonicalWriter, is_float_text};

/// The projection whose student lists are held typed.
pub(crate) const SUPPORT: &str = "student_support";

/// One student of a support bucket: the row the `student_support` projection
/// derives, the bundle prints, the parity digest hashes and the
/// `student_support_list` dataset writes. Fields are declared in the order the
/// bundle prints them (code-point order of their names).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StudentRow {
    /// Inactive for the scope's `inactivity_days` or more (or never seen).
    pub inactive: bool,
    /// Last interaction, `YYYY-MM-DDTHH:MM:SSZ`.
    pub last_interaction_at: Option<Box<str>>,
    /// Display name.
    pub name: Box<str>,
    /// Proficiency rounded to one decimal.
    pub proficiency_pct: Option<f64>,
    /// Progress rounded to one decimal.
    pub progress_pct: Option<f64>,
    /// Student id.
    pub student_id: u64,
}

/// The `student_support` value with its student lists typed: the JSON without the
/// buckets' `students` arrays (left empty), and those arrays, bucket by bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct SupportRows {
    /// The projection's JSON, every bucket's `students` an empty array.
    pub skeleton: Value,
    /// The students of each bucket, in bucket order.
    pub students: Vec<Vec<StudentRow>>,
}

/// A [`StudentRow`] as read from a bundle held as JSON, where numbers may be
/// spelled any way JSON allows (the typed hold reads them strictly).
#[derive(serde::Deserialize)]
pub(crate) struct LooseStudentRow {
    student_id: u64,
    name: String,
    progress_pct: Option<f64>,
    proficiency_pct: Option<f64>,
    inactive: bool,
    last_interaction_at: Option<String>,
}

impl From<LooseStudentRow> for StudentRow {
    fn from(r: LooseStudentRow) -> Self {
        StudentRow {
            inactive: r.inactive,
            last_interaction_at: r.last_interaction_at.map(String::into_boxed_str),
            name: r.name.into_boxed_str(),
            proficiency_pct: r.proficiency_pct,
            progress_pct: r.progress_pct,
            student_id: r.student_id,
        }
    }
}

impl SupportRows {
    /// The whole projection value as JSON (each bucket's `students` filled in).
    pub fn to_value(&self) -> Value {
        let mut value = self.skeleton.clone();
        if let Some(Value::Array(buckets)) = value.get_mut("buckets") {
            for (bucket, rows) in buckets.iter_mut().zip(&self.students) {
                if let Value::Object(map) = bucket {
                    let list = rows.iter().map(StudentRow::to_value).collect();
                    map.insert("students".to_owned(), Value::Array(list));
                }
            }
        }
        value
    }
}

impl StudentRow {
    /// The row as the JSON object the projection holds.
    pub fn to_value(&self) -> Value {
        let pct = |x: Option<f64>| {
            x.and_then(Number::from_f64)
                .map_or(Value::Null, Value::Number)
        };
        let mut map = Map::new();
        map.insert("student_id".into(), Value::from(self.student_id));
        map.insert("name".into(), Value::from(&*self.name));
        map.insert("progress_pct".into(), pct(self.progress_pct));
        map.insert("proficiency_pct".into(), pct(self.proficiency_pct));
        map.insert("inactive".into(), Value::Bool(self.inactive));
        map.insert(
            "last_interaction_at".into(),
            self.last_interaction_at
                .as_deref()
                .map_or(Value::Null, Value::from),
        );
        Value::Object(map)
    }

    /// Append the canonical JSON of the row (keys in code-point order:
    /// `proficiency_pct` sorts before `progress_pct`).
    pub(crate) fn write_canonical(&self, out: &mut CanonicalWriter<'_>) {
        // The percentages are finite (see `pct`); JSON has no other float.
        let pct = |out: &mut CanonicalWriter<'_>, x: Option<f64>| match x.filter(|x| x.is_finite())
        {
            Some(x) => out.float(x),
            None => out.raw("null"),
        };
        out.raw("{\"inactive\":");
        out.raw(if self.inactive { "true" } else { "false" });
        out.raw(",\"last_interaction_at\":");
        match &self.last_interaction_at {
            Some(t) => out.string(t),
            None => out.raw("null"),
        }
        out.raw(",\"name\":");
        out.string(&self.name);
        out.raw(",\"proficiency_pct\":");
        pct(out, self.proficiency_pct);
        out.raw(",\"progress_pct\":");
        pct(out, self.progress_pct);
        out.raw(",\"student_id\":");
        out.raw(&self.student_id.to_string());
        out.raw("}");
    }
}

/// The entries of a student row as read (a key given again keeps its last
/// value, as in a whole read), to be held typed when the typed form holds them
/// exactly.
#[derive(Default)]
pub(crate) struct RowFields {
    /// The six fields of [`StudentRow`], in the order of [`FIELDS`].
    known: [Option<Value>; 6],
    /// Any other entry.
    other: Map<String, Value>,
}

/// The fields of a student row as the projection writes them.
pub(crate) const FIELDS: [&str; 6] = [
    "student_id",
    "name",
    "progress_pct",
    "proficiency_pct",
    "inactive",
    "last_interaction_at",
];

impl RowFields {
    /// Add the entry `key`.
    pub(crate) fn insert(&mut self, key: std::borrow::Cow<'_, str>, value: Value) {
        let slot = FIELDS
            .iter()
            .position(|f| *f == key)
            .and_then(|i| self.known.get_mut(i));
        match slot {
            Some(slot) => *slot = Some(value),
            None => {
                self.other.insert(key.into_owned(), value);
            }
        }
    }

    /// The row, when the typed form holds it exactly: the six fields and no
    /// other, each spelled as the projection writes it (`student_id` an integer
    /// as `u64` prints it, each percentage `null` or a finite float spelled as a
    /// float), so that its canonical JSON and its CSV cells are those of the
    /// JSON read. Otherwise the entries as JSON.
    pub(crate) fn into_row(mut self) -> Result<StudentRow, Value> {
        match self.exact() {
            Some(row) => Ok(row),
            None => Err(self.into_value()),
        }
    }

    /// [`RowFields::into_row`]'s row; its strings are taken out of the slots
    /// only once every field is known to fit.
    fn exact(&mut self) -> Option<StudentRow> {
        if !self.other.is_empty() {
            return None;
        }
        let [
            Some(Value::Number(id)),
            Some(Value::String(name)),
            Some(progress),
            Some(proficiency),
            Some(Value::Bool(inactive)),
            Some(last),
        ] = &mut self.known
        else {
            return None;
        };
        // Spelled as `u64` prints it: digits, no leading zero.
        let text = id.as_str();
        let plain =
            text.bytes().all(|b| b.is_ascii_digit()) && (text == "0" || !text.starts_with('0'));
        let student_id = id.as_u64().filter(|_| plain)?;
        let progress_pct = pct(progress)?;
        let proficiency_pct = pct(proficiency)?;
        let last_interaction_at = match last {
            Value::Null => None,
            Value::String(t) => Some(std::mem::take(t).into_boxed_str()),
            _ => return None,
        };
        Some(StudentRow {
            inactive: *inactive,
            last_interaction_at,
            name: std::mem::take(name).into_boxed_str(),
            proficiency_pct,
            progress_pct,
            student_id,
        })
    }

    /// The entries as the JSON object a whole read holds.
    fn into_value(self) -> Value {
        let mut map: Map<String, Value> = FIELDS
            .iter()
            .zip(self.known)
            .filter_map(|(key, value)| Some(((*key).to_owned(), value?)))
            .collect();
        map.extend(self.other);
        Value::Object(map)
    }
}

/// A percentage the typed form holds: `null`, or a finite float spelled as a
/// float (an integer such as `19` is not: its canonical JSON differs).
fn pct(v: &Value) -> Option<Option<f64>> {
    match v {
        Value::Null => Some(None),
        Value::Number(n) if is_float_text(n) => n.as_f64().filter(|x| x.is_finite()).map(Some),
        _ => None,
    }
}
