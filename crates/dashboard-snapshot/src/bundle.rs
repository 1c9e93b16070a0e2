//! The bundle document: printed with sorted keys as it is produced (payloads
//! walked as text, typed student rows printed from their fields), read whole, or
//! read for export as it streams by with its payloads skipped.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::compact::{SUPPORT, SupportRows};
use crate::contract::{
    BUNDLE_FORMAT, SUPPORTED_PROJECTION_VERSIONS, SUPPORTED_SNAPSHOT_VERSIONS, Snapshot,
    SnapshotBundle, Typed,
};
use crate::error::{Error, Result};

impl SnapshotBundle {
    /// The bundle JSON: sorted keys, 2-space indent, LF, one trailing newline.
    pub fn to_json_string(&self) -> Result<String> {
        let mut out = Vec::new();
        self.write_json(&mut out)
            .map_err(|e| Error::field("bundle", "", e.to_string()))?;
        String::from_utf8(out).map_err(|e| Error::field("bundle", "", e.to_string()))
    }

    /// [`SnapshotBundle::to_json_string`] written to `out` as it is produced: the
    /// payloads and projections are printed from where they are, with no copy
    /// of the bundle as a JSON tree and no whole-document string. Buffer `out`.
    pub fn write_json<W: std::io::Write>(&self, mut out: W) -> std::io::Result<()> {
        if self.typed.as_ref().is_some_and(|t| t.payloads_skipped) {
            return Err(std::io::Error::other(
                "a bundle read without its oracle payloads cannot be written back",
            ));
        }
        serde_json::to_writer_pretty(&mut out, &SortedBundle(self)).map_err(|e| {
            if e.is_io() {
                std::io::Error::from(e)
            } else {
                std::io::Error::other(e)
            }
        })?;
        out.write_all(b"\n")?;
        out.flush()
    }

    /// Read a bundle for export or verification from `reader` (buffer it) in
    /// one pass, as it streams by: the snapshot's oracle payloads are checked to
    /// be JSON and skipped, never held (serializers read projections only), so
    /// the result has an empty `snapshot.oracles` and cannot be written back; the
    /// student rows of `student_support` are held typed when the typed form holds
    /// them exactly (that projection is read through the instructor serializers
    /// and the parity functions, not as JSON), else that projection is held as
    /// JSON. Everything else is checked as [`SnapshotBundle::from_json_str`]
    /// checks it: the same bundles are accepted, with the same content for export
    /// and parity, and refused with the same messages.
    pub fn from_reader_without_payloads<R: std::io::Read>(reader: R) -> Result<Self> {
        let mut de = serde_json::Deserializer::from_reader(reader);
        Self::read_streamed(&mut de, false)
    }

    /// [`SnapshotBundle::from_reader_without_payloads`] for an export with the
    /// default Deflate level: while the rest of the bundle is read and checked,
    /// a second thread already writes and compresses the `student_support_list`
    /// entry from the student rows read, and [`crate::export::write_zip`] copies it into
    /// the archive when it is exactly the entry it would write (else it writes
    /// the entry itself). The bundle and the archive are the same either way.
    ///
    /// The thread runs until it has compressed every row it was sent (about
    /// 3 s of one core for a million students) or the bundle is dropped; the
    /// rows waiting for it are a second copy of them. A bundle that will not be
    /// exported is cheaper read with
    /// [`SnapshotBundle::from_reader_without_payloads`].
    pub fn from_reader_for_export<R: std::io::Read>(reader: R) -> Result<Self> {
        let mut de = serde_json::Deserializer::from_reader(reader);
        Self::read_streamed(&mut de, true)
    }

    fn read_streamed<'de, R: serde_json::de::Read<'de>>(
        de: &mut serde_json::Deserializer<R>,
        early: bool,
    ) -> Result<Self> {
        let (feed, early) = match early.then(crate::export::early::spawn).flatten() {
            Some((feed, early)) => (Some(feed), Some(early)),
            None => (None, None),
        };
        let read = crate::stream::Streamed::read(&mut *de, feed.as_ref()).map_err(json)?;
        // The thread ends once it has compressed what it was sent.
        drop(feed);
        de.end().map_err(json)?;
        let mut bundle = Self::from_value(read.doc)?;
        bundle.typed = Some(std::sync::Arc::new(Typed {
            support: read.support,
            payloads_skipped: true,
            early,
        }));
        Ok(bundle)
    }

    /// Read a bundle, rejecting unknown formats and unsupported versions.
    pub fn from_json_str(text: &str) -> Result<Self> {
        Self::from_value(serde_json::from_str(text).map_err(json)?)
    }

    /// The bundle `value`: its format, then its versions, then its typed form.
    fn from_value(value: serde_json::Value) -> Result<Self> {
        let format = value.get("format").and_then(|f| f.as_str()).unwrap_or("");
        if format != BUNDLE_FORMAT {
            return Err(Error::UnsupportedVersion {
                what: "format",
                found: format.to_owned(),
                supported: BUNDLE_FORMAT.to_owned(),
            });
        }
        for (what, pointer, supported) in [
            (
                "snapshot_version",
                "/snapshot/snapshot_version",
                SUPPORTED_SNAPSHOT_VERSIONS,
            ),
            (
                "projection_version",
                "/snapshot/projection_version",
                SUPPORTED_PROJECTION_VERSIONS,
            ),
        ] {
            let found = value.pointer(pointer);
            let ok = found
                .and_then(|v| v.as_u64())
                .is_some_and(|v| supported.iter().any(|s| u64::from(*s) == v));
            if !ok {
                return Err(Error::UnsupportedVersion {
                    what,
                    found: found.map_or_else(|| "none".to_owned(), |v| v.to_string()),
                    supported: format!("{supported:?}"),
                });
            }
        }
        serde_json::from_value(value).map_err(json)
    }
}

/// A bundle's JSON error.
fn json(source: serde_json::Error) -> Error {
    Error::Json {
        what: "bundle",
        source,
    }
}

/// `value` printed with keys sorted at every level, 2-space indent, trailing LF.
pub fn pretty_sorted(value: &serde_json::Value) -> String {
    let sorted = sort_keys(value);
    let mut text = serde_json::to_string_pretty(&sorted).unwrap_or_default();
    text.push('\n');
    text
}

/// A copy of `value` whose objects have their keys in code-point order.
pub fn sort_keys(value: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k.clone(), sort_keys(v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(sort_keys).collect()),
        other => other.clone(),
    }
}

/// A JSON value serialized with its object keys in code-point order (what
/// [`sort_keys`] builds, without building it).
struct Sorted<'a>(&'a serde_json::Value);

impl Serialize for Sorted<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        use serde_json::Value;
        match self.0 {
            Value::Object(map) => {
                let mut entries: Vec<(&String, &Value)> = map.iter().collect();
                entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
                let mut m = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    m.serialize_entry(k, &Sorted(v))?;
                }
                m.end()
            }
            Value::Array(items) => s.collect_seq(items.iter().map(Sorted)),
            other => other.serialize(s),
        }
    }
}

/// A small typed part turned into a sorted JSON value.
fn sorted_value<T: Serialize, E: serde::ser::Error>(
    part: &T,
) -> std::result::Result<serde_json::Value, E> {
    serde_json::to_value(part)
        .map(|v| sort_keys(&v))
        .map_err(E::custom)
}

/// The projections (keys already sorted in a `BTreeMap`), values printed sorted;
/// `student_support` from its typed rows when the bundle holds them.
struct SortedProjections<'a>(
    &'a BTreeMap<String, serde_json::Value>,
    Option<&'a SupportRows>,
);

impl Serialize for SortedProjections<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (key, value) in self.0 {
            match self.1 {
                Some(rows) if key == SUPPORT => {
                    m.serialize_entry(key, &SortedWith(value, "buckets", &Buckets(value, rows)))?;
                }
                _ => m.serialize_entry(key, &Sorted(value))?,
            }
        }
        m.end()
    }
}

/// An object printed sorted, its entry `key` printed by `special`.
struct SortedWith<'a, T: ?Sized>(&'a serde_json::Value, &'static str, &'a T);

impl<T: Serialize + ?Sized> Serialize for SortedWith<'_, T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let serde_json::Value::Object(map) = self.0 else {
            return Sorted(self.0).serialize(s);
        };
        let mut entries: Vec<_> = map.iter().collect();
        entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let mut m = s.serialize_map(Some(entries.len()))?;
        for (k, v) in entries {
            if k == self.1 {
                m.serialize_entry(k, self.2)?;
            } else {
                m.serialize_entry(k, &Sorted(v))?;
            }
        }
        m.end()
    }
}

/// The `buckets` of a typed `student_support`: each bucket's `students` printed
/// from its rows.
struct Buckets<'a>(&'a serde_json::Value, &'a SupportRows);

impl Serialize for Buckets<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let empty = Vec::new();
        let buckets = match self.0.get("buckets") {
            Some(serde_json::Value::Array(list)) => list,
            _ => &empty,
        };
        s.collect_seq(buckets.iter().enumerate().map(|(i, bucket)| {
            let rows = self
                .1
                .students
                .get(i)
                .map(Vec::as_slice)
                .unwrap_or_default();
            SortedWith(bucket, "students", rows)
        }))
    }
}

/// The bundle with every key in code-point order: the fields of the typed parts
/// in sorted order by hand, their small parts through [`sort_keys`], and the
/// payloads and projections streamed through [`Sorted`].
struct SortedBundle<'a>(&'a SnapshotBundle);

impl Serialize for SortedBundle<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let b = self.0;
        let mut m = s.serialize_map(Some(6))?;
        m.serialize_entry("format", &b.format)?;
        m.serialize_entry("parity", &sorted_value::<_, S::Error>(&b.parity)?)?;
        m.serialize_entry(
            "projection_statuses",
            &sorted_value::<_, S::Error>(&b.projection_statuses)?,
        )?;
        m.serialize_entry(
            "projections",
            &SortedProjections(&b.projections, b.support_rows()),
        )?;
        m.serialize_entry("snapshot", &SortedSnapshot(&b.snapshot))?;
        m.serialize_entry("unknown_oracles", &b.unknown_oracles)?;
        m.end()
    }
}

struct SortedSnapshot<'a>(&'a Snapshot);

impl Serialize for SortedSnapshot<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let n = self.0;
        let mut m = s.serialize_map(Some(7))?;
        m.serialize_entry("metadata", &sorted_value::<_, S::Error>(&n.metadata)?)?;
        m.serialize_entry(
            "oracle_statuses",
            &sorted_value::<_, S::Error>(&n.oracle_statuses)?,
        )?;
        m.serialize_entry("oracles", &n.oracles)?;
        m.serialize_entry("projection_version", &n.projection_version)?;
        m.serialize_entry("request_token", &n.request_token)?;
        m.serialize_entry("scope", &sorted_value::<_, S::Error>(&n.scope)?)?;
        m.serialize_entry("snapshot_version", &n.snapshot_version)?;
        m.end()
    }
}
