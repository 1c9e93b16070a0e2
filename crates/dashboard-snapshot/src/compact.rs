//! The student rows of the `student_support` projection held typed when a bundle is
//! read for export ([`crate::SnapshotBundle::from_reader_without_payloads`]): about
//! 150 bytes a student instead of a JSON object tree. The rows are read strictly:
//! exactly the six fields, each in the spelling the projection writes, so their
//! canonical JSON (for the parity digest) and their CSV cells are those of the JSON
//! they were read from. Anything else makes the read fail, and the caller reads the
//! bundle whole instead.

use std::fmt;

use serde::Serialize;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
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

/// A percentage: `null` or a finite float spelled as a float.
fn pct<E: de::Error>(v: Option<Number>) -> Result<Option<f64>, E> {
    match v {
        None => Ok(None),
        Some(n) if is_float_text(&n) => match n.as_f64().filter(|x| x.is_finite()) {
            Some(x) => Ok(Some(x)),
            None => Err(E::custom("percentage out of range")),
        },
        Some(_) => Err(E::custom("percentage spelled as an integer")),
    }
}

impl<'de> Deserialize<'de> for StudentRow {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> Visitor<'de> for Visit {
            type Value = StudentRow;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a student row")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StudentRow, A::Error> {
                let mut id: Option<Number> = None;
                let mut name: Option<String> = None;
                let mut progress: Option<Option<Number>> = None;
                let mut proficiency: Option<Option<Number>> = None;
                let mut inactive: Option<bool> = None;
                let mut last: Option<Option<String>> = None;
                fn once<T, E: de::Error>(slot: &mut Option<T>, v: T) -> Result<(), E> {
                    if slot.replace(v).is_some() {
                        return Err(E::custom("a field given twice"));
                    }
                    Ok(())
                }
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "student_id" => once(&mut id, map.next_value()?)?,
                        "name" => once(&mut name, map.next_value()?)?,
                        "progress_pct" => once(&mut progress, map.next_value()?)?,
                        "proficiency_pct" => once(&mut proficiency, map.next_value()?)?,
                        "inactive" => once(&mut inactive, map.next_value()?)?,
                        "last_interaction_at" => once(&mut last, map.next_value()?)?,
                        _ => return Err(de::Error::custom("an unexpected field")),
                    }
                }
                let missing = || de::Error::custom("a missing field");
                let id = id.ok_or_else(missing)?;
                let student_id = id
                    .as_u64()
                    .filter(|u| u.to_string() == id.as_str())
                    .ok_or_else(|| de::Error::custom("student_id spelled otherwise"))?;
                Ok(StudentRow {
                    student_id,
                    name: name.ok_or_else(missing)?.into_boxed_str(),
                    progress_pct: pct(progress.ok_or_else(missing)?)?,
                    proficiency_pct: pct(proficiency.ok_or_else(missing)?)?,
                    inactive: inactive.ok_or_else(missing)?,
                    last_interaction_at: last.ok_or_else(missing)?.map(String::into_boxed_str),
                })
            }
        }
        d.deserialize_map(Visit)
    }
}

/// A JSON object read entry by entry; the entry named `typed` (once) is read as
/// `T`, the others as values; `typed` is left as an empty array in the object.
fn object_with<'de, A: MapAccess<'de>, T: Deserialize<'de>>(
    mut map: A,
    typed: &str,
) -> Result<(Map<String, Value>, T), A::Error> {
    let mut out = Map::new();
    let mut held = None;
    while let Some(key) = map.next_key::<String>()? {
        if out.contains_key(&key) {
            return Err(de::Error::custom("a key given twice"));
        }
        if key == typed {
            held = Some(map.next_value::<T>()?);
            out.insert(key, Value::Array(Vec::new()));
        } else {
            let v: Value = map.next_value()?;
            out.insert(key, v);
        }
    }
    let held = held.ok_or_else(|| de::Error::custom("a missing field"))?;
    Ok((out, held))
}

struct Bucket(Map<String, Value>, Vec<StudentRow>);

impl<'de> Deserialize<'de> for Bucket {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> Visitor<'de> for Visit {
            type Value = Bucket;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a support bucket")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Bucket, A::Error> {
                let (m, rows) = object_with(map, "students")?;
                Ok(Bucket(m, rows))
            }
        }
        d.deserialize_map(Visit)
    }
}

struct Buckets(Vec<Bucket>);

impl<'de> Deserialize<'de> for Buckets {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> Visitor<'de> for Visit {
            type Value = Buckets;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of support buckets")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Buckets, A::Error> {
                let mut out = Vec::new();
                while let Some(b) = seq.next_element()? {
                    out.push(b);
                }
                Ok(Buckets(out))
            }
        }
        d.deserialize_seq(Visit)
    }
}

impl<'de> Deserialize<'de> for SupportRows {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> Visitor<'de> for Visit {
            type Value = SupportRows;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("the student_support projection")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<SupportRows, A::Error> {
                let (mut m, Buckets(buckets)) = object_with(map, "buckets")?;
                let mut students = Vec::with_capacity(buckets.len());
                let mut skeleton = Vec::with_capacity(buckets.len());
                for Bucket(b, rows) in buckets {
                    skeleton.push(Value::Object(b));
                    students.push(rows);
                }
                m.insert("buckets".to_owned(), Value::Array(skeleton));
                Ok(SupportRows {
                    skeleton: Value::Object(m),
                    students,
                })
            }
        }
        d.deserialize_map(Visit)
    }
}

/// Projections as read for export: `student_support` compact, the others as JSON.
pub(crate) struct ExportProjections {
    pub(crate) values: std::collections::BTreeMap<String, Value>,
    pub(crate) support: Option<SupportRows>,
}

impl<'de> Deserialize<'de> for ExportProjections {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> Visitor<'de> for Visit {
            type Value = ExportProjections;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of projections")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<ExportProjections, A::Error> {
                let mut values = std::collections::BTreeMap::new();
                let mut support = None;
                while let Some(key) = map.next_key::<String>()? {
                    if values.contains_key(&key) {
                        return Err(de::Error::custom("a projection given twice"));
                    }
                    if key == SUPPORT {
                        let c: SupportRows = map.next_value()?;
                        values.insert(key, c.skeleton.clone());
                        support = Some(c);
                    } else {
                        let v: Value = map.next_value()?;
                        values.insert(key, v);
                    }
                }
                Ok(ExportProjections { values, support })
            }
        }
        d.deserialize_map(Visit)
    }
}
