//! A bundle read for export in one pass as it streams by
//! ([`crate::SnapshotBundle::from_reader_without_payloads`]): the oracle payloads
//! are checked to be JSON and dropped, the student rows of `student_support` are
//! held typed ([`crate::compact`]), and everything else is kept as JSON, to be
//! checked afterwards exactly as a bundle read whole is.
//!
//! A part of another shape than the one `assemble` writes is kept as JSON too:
//! a student row the typed form cannot hold exactly (an integer percentage, an
//! extra field) leaves its whole projection JSON, and a key given twice keeps
//! its last value, as a whole read has them. So the stream accepts what the
//! whole read accepts, reads it the same, and refuses the rest with the same
//! message, without a second pass over the input.
//!
//! Read for export ([`crate::SnapshotBundle::from_reader_for_export`]), each
//! typed student row is also handed to a [`Feed`] as it is read, with each
//! bucket's `id` as read before its students, for the support list compressed
//! early ([`crate::export::early`]). Keys the nodes look for (and a student
//! row's fields) are read without an allocation.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{
    self, Deserialize, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor,
};
use serde_json::{Map, Number, Value};

use crate::compact::{FIELDS, RowFields, SUPPORT, StudentRow, SupportRows};
use crate::export::early::Feed;

/// JSON read as it streams by (the bundle, or its `projections`), without the
/// oracle payloads (`snapshot.oracles` is an empty object) and without the
/// student rows held typed, and those rows.
pub(crate) struct Streamed {
    /// The JSON without payloads and typed rows.
    pub(crate) doc: Value,
    /// The rows of `student_support`, when the typed form holds them.
    pub(crate) support: Option<SupportRows>,
}

impl From<Value> for Streamed {
    fn from(doc: Value) -> Self {
        Streamed { doc, support: None }
    }
}

impl Streamed {
    /// Read the bundle from `d`, handing the student rows to `feed` (when
    /// given) as they are read.
    pub(crate) fn read<'de, D: Deserializer<'de>>(
        d: D,
        feed: Option<&Feed>,
    ) -> Result<Self, D::Error> {
        Visit::<Bundle>::new(feed).deserialize(d)
    }
}

/// A part read typed when it has the shape the typed form holds exactly, else
/// as JSON.
enum Held<T> {
    /// Typed.
    Typed(T),
    /// The JSON, as a whole read holds it.
    Json(Value),
}

impl<T> From<Value> for Held<T> {
    fn from(value: Value) -> Self {
        Held::Json(value)
    }
}

/// One node on the way to the parts read apart. An object is read entry by
/// entry and an array item by item ([`Node::object`], [`Node::array`]: by
/// default as JSON); any other JSON is kept as it is (`Out::from`).
trait Node {
    /// What the node is read into.
    type Out: From<Value>;
    /// The node, an object.
    fn object<'de, A: MapAccess<'de>>(
        entries: Entries<A>,
        _feed: Option<&Feed>,
    ) -> Result<Self::Out, A::Error> {
        let map = entries.read(|_, _, _| Ok(None))?;
        Ok(Value::Object(map).into())
    }
    /// The node, an array.
    fn array<'de, A: SeqAccess<'de>>(
        mut seq: A,
        _feed: Option<&Feed>,
    ) -> Result<Self::Out, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items).into())
    }
}

/// The key under which serde_json (built with `arbitrary_precision`, as this
/// workspace builds it) hands a number that is not a plain integer to
/// `visit_map`, as a one-entry map holding its text: what `Value` looks for.
const NUMBER_TOKEN: &str = "$serde_json::private::Number";

/// Reads any JSON value as the node `N`, handing student rows to the feed (if any).
struct Visit<'f, N> {
    feed: Option<&'f Feed>,
    node: PhantomData<N>,
}

impl<'f, N> Visit<'f, N> {
    fn new(feed: Option<&'f Feed>) -> Self {
        Visit {
            feed,
            node: PhantomData,
        }
    }
}

impl<'de, N: Node> DeserializeSeed<'de> for Visit<'_, N> {
    type Value = N::Out;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<N::Out, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, N: Node> Visitor<'de> for Visit<'_, N> {
    type Value = N::Out;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E: de::Error>(self, b: bool) -> Result<N::Out, E> {
        Ok(N::Out::from(Value::Bool(b)))
    }
    fn visit_i64<E: de::Error>(self, n: i64) -> Result<N::Out, E> {
        Ok(N::Out::from(Value::from(n)))
    }
    fn visit_u64<E: de::Error>(self, n: u64) -> Result<N::Out, E> {
        Ok(N::Out::from(Value::from(n)))
    }
    fn visit_f64<E: de::Error>(self, x: f64) -> Result<N::Out, E> {
        Ok(N::Out::from(
            Number::from_f64(x).map_or(Value::Null, Value::Number),
        ))
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<N::Out, E> {
        Ok(N::Out::from(Value::from(s)))
    }
    fn visit_string<E: de::Error>(self, s: String) -> Result<N::Out, E> {
        Ok(N::Out::from(Value::String(s)))
    }
    fn visit_unit<E: de::Error>(self) -> Result<N::Out, E> {
        Ok(N::Out::from(Value::Null))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<N::Out, A::Error> {
        N::array(seq, self.feed)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<N::Out, A::Error> {
        let first = map.next_key_seed(KeySeed)?;
        if first.as_deref() == Some(NUMBER_TOKEN) {
            let text: String = map.next_value()?;
            let number = text.parse::<Number>().map_err(de::Error::custom)?;
            return Ok(N::Out::from(Value::Number(number)));
        }
        N::object(Entries { first, map }, self.feed)
    }
}

/// An object key: one of the keys the stream looks for (the student row's
/// fields among them) without an allocation, any other as read.
type Key = Cow<'static, str>;

/// Reads a [`Key`].
struct KeySeed;

/// The keys read without an allocation besides a student row's fields: those
/// the nodes look for.
const NODE_KEYS: [&str; 4] = ["id", "students", "buckets", NUMBER_TOKEN];

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Key;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Key, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Key;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string key")
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Key, E> {
        Ok(match FIELDS.iter().chain(&NODE_KEYS).find(|k| **k == s) {
            Some(known) => Cow::Borrowed(known),
            None => Cow::Owned(s.to_owned()),
        })
    }
    fn visit_string<E: de::Error>(self, s: String) -> Result<Key, E> {
        Ok(Cow::Owned(s))
    }
}

/// An object's entries, its first key already read (to tell it from a number).
struct Entries<A> {
    first: Option<Key>,
    map: A,
}

impl<'de, A: MapAccess<'de>> Entries<A> {
    /// The entries as JSON but those `special` reads itself (given the key and
    /// the entries, it reads the value and returns what to keep, or `None` for
    /// JSON). A key given again replaces the value, keeping its place.
    fn read(
        mut self,
        mut special: impl FnMut(&str, &mut A, &Map<String, Value>) -> Result<Option<Value>, A::Error>,
    ) -> Result<Map<String, Value>, A::Error> {
        let mut out = Map::new();
        while let Some(key) = self.next_key()? {
            let value = match special(&key, &mut self.map, &out)? {
                Some(value) => value,
                None => self.map.next_value()?,
            };
            out.insert(key.into_owned(), value);
        }
        Ok(out)
    }

    fn next_key(&mut self) -> Result<Option<Key>, A::Error> {
        match self.first.take() {
            Some(key) => Ok(Some(key)),
            None => self.map.next_key_seed(KeySeed),
        }
    }
}

/// Items read as `N`: typed while every one is; from the first that is not,
/// every item as JSON. Each typed item is shown to `tap` as it is read.
fn items<'de, A, N, T>(
    mut seq: A,
    feed: Option<&Feed>,
    to_value: fn(T) -> Value,
    mut tap: impl FnMut(&T),
) -> Result<Held<Vec<T>>, A::Error>
where
    A: SeqAccess<'de>,
    N: Node<Out = Held<T>>,
{
    let mut typed = Vec::with_capacity(seq.size_hint().unwrap_or(0));
    while let Some(item) = seq.next_element_seed(Visit::<N>::new(feed))? {
        match item {
            Held::Typed(t) => {
                tap(&t);
                typed.push(t);
            }
            Held::Json(value) => {
                let mut items: Vec<Value> = typed.into_iter().map(to_value).collect();
                items.push(value);
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                return Ok(Held::Json(Value::Array(items)));
            }
        }
    }
    Ok(Held::Typed(typed))
}

/// The document: `snapshot` and `projections` read apart.
struct Bundle;

impl Node for Bundle {
    type Out = Streamed;
    fn object<'de, A: MapAccess<'de>>(
        entries: Entries<A>,
        feed: Option<&Feed>,
    ) -> Result<Streamed, A::Error> {
        let mut support = None;
        let doc = entries.read(|key, map, _| match key {
            "snapshot" => Ok(Some(map.next_value_seed(Visit::<Snapshot>::new(feed))?)),
            "projections" => {
                let projections = map.next_value_seed(Visit::<Projections>::new(feed))?;
                support = projections.support;
                Ok(Some(projections.doc))
            }
            _ => Ok(None),
        })?;
        Ok(Streamed {
            doc: Value::Object(doc),
            support,
        })
    }
}

/// `snapshot`: its `oracles` read by [`Oracles`].
struct Snapshot;

impl Node for Snapshot {
    type Out = Value;
    fn object<'de, A: MapAccess<'de>>(
        entries: Entries<A>,
        feed: Option<&Feed>,
    ) -> Result<Value, A::Error> {
        let map = entries.read(|key, map, _| match key {
            "oracles" => Ok(Some(map.next_value_seed(Visit::<Oracles>::new(feed))?)),
            _ => Ok(None),
        })?;
        Ok(Value::Object(map))
    }
}

/// `snapshot.oracles`: each payload parsed (so it is JSON) and dropped; an object
/// of them is kept as an empty object.
struct Oracles;

impl Node for Oracles {
    type Out = Value;
    fn object<'de, A: MapAccess<'de>>(
        mut entries: Entries<A>,
        _feed: Option<&Feed>,
    ) -> Result<Value, A::Error> {
        while entries.next_key()?.is_some() {
            entries.map.next_value::<IgnoredAny>()?;
        }
        Ok(Value::Object(Map::new()))
    }
}

/// `projections`: `student_support` read by [`Support`].
struct Projections;

impl Node for Projections {
    type Out = Streamed;
    fn object<'de, A: MapAccess<'de>>(
        entries: Entries<A>,
        feed: Option<&Feed>,
    ) -> Result<Self::Out, A::Error> {
        let mut support = None;
        let map = entries.read(|key, map, _| {
            if key != SUPPORT {
                return Ok(None);
            }
            // The feed follows the last reading of the projection.
            if let Some(feed) = feed {
                feed.start();
            }
            Ok(Some(
                match map.next_value_seed(Visit::<Support>::new(feed))? {
                    Held::Typed(rows) => {
                        let skeleton = rows.skeleton.clone();
                        support = Some(rows);
                        skeleton
                    }
                    Held::Json(value) => {
                        support = None;
                        value
                    }
                },
            ))
        })?;
        Ok(Streamed {
            doc: Value::Object(map),
            support,
        })
    }
}

/// An object whose entry `key` is read as `N` (a list), the others as JSON: the
/// object, its entry `key` an empty array, and the list when it is typed; else
/// the object as JSON. `before` sees the entries read before `key`'s.
fn object_with<'de, A, N, T>(
    entries: Entries<A>,
    key: &str,
    feed: Option<&Feed>,
    mut before: impl FnMut(&Map<String, Value>),
) -> Result<Held<WithList<T>>, A::Error>
where
    A: MapAccess<'de>,
    N: Node<Out = Held<Vec<T>>>,
{
    let mut list = None;
    let mut map = entries.read(|k, map, read| {
        if k != key {
            return Ok(None);
        }
        before(read);
        list = Some(map.next_value_seed(Visit::<N>::new(feed))?);
        Ok(Some(Value::Array(Vec::new())))
    })?;
    Ok(match list {
        Some(Held::Typed(list)) => Held::Typed((map, list)),
        Some(Held::Json(value)) => {
            map.insert(key.to_owned(), value);
            Held::Json(Value::Object(map))
        }
        None => Held::Json(Value::Object(map)),
    })
}

/// `student_support`: its `buckets` read by [`Buckets`].
struct Support;

impl Node for Support {
    type Out = Held<SupportRows>;
    fn object<'de, A: MapAccess<'de>>(
        entries: Entries<A>,
        feed: Option<&Feed>,
    ) -> Result<Self::Out, A::Error> {
        let (mut map, buckets) =
            match object_with::<A, Buckets, Bucket>(entries, "buckets", feed, |_| {})? {
                Held::Typed(typed) => typed,
                Held::Json(value) => return Ok(Held::Json(value)),
            };
        let (skeleton, students) = buckets
            .into_iter()
            .map(|(bucket, rows)| (Value::Object(bucket), rows))
            .unzip();
        map.insert("buckets".to_owned(), Value::Array(skeleton));
        Ok(Held::Typed(SupportRows {
            skeleton: Value::Object(map),
            students,
        }))
    }
}

/// An object held typed: its JSON, one entry an empty array, and that entry's
/// items.
type WithList<T> = (Map<String, Value>, Vec<T>);

/// A bucket of `student_support` held typed: its JSON (`students` an empty
/// array) and its students.
type Bucket = WithList<StudentRow>;

/// `student_support.buckets`: each bucket read by [`BucketNode`].
struct Buckets;

impl Node for Buckets {
    type Out = Held<Vec<Bucket>>;
    fn array<'de, A: SeqAccess<'de>>(seq: A, feed: Option<&Feed>) -> Result<Self::Out, A::Error> {
        let to_value = |(mut map, students): Bucket| {
            let rows = students.iter().map(StudentRow::to_value).collect();
            map.insert("students".to_owned(), Value::Array(rows));
            Value::Object(map)
        };
        items::<A, BucketNode, Bucket>(seq, feed, to_value, |_| {})
    }
}

/// A bucket: its `students` read by [`Students`], the feed told the bucket's
/// `id` as read before them.
struct BucketNode;

impl Node for BucketNode {
    type Out = Held<Bucket>;
    fn object<'de, A: MapAccess<'de>>(
        entries: Entries<A>,
        feed: Option<&Feed>,
    ) -> Result<Self::Out, A::Error> {
        object_with::<A, Students, StudentRow>(entries, "students", feed, |read| {
            if let Some(feed) = feed {
                feed.bucket(read.get("id").and_then(Value::as_str));
            }
        })
    }
}

/// A bucket's `students`: each read by [`Row`], and shown to the feed.
struct Students;

impl Node for Students {
    type Out = Held<Vec<StudentRow>>;
    fn array<'de, A: SeqAccess<'de>>(seq: A, feed: Option<&Feed>) -> Result<Self::Out, A::Error> {
        let read = items::<A, Row, StudentRow>(
            seq,
            feed,
            |row| row.to_value(),
            |row| {
                if let Some(feed) = feed {
                    feed.row(row);
                }
            },
        );
        if let Some(feed) = feed {
            feed.flush();
        }
        read
    }
}

/// A student row: typed when [`RowFields::into_row`] holds it exactly.
struct Row;

impl Node for Row {
    type Out = Held<StudentRow>;
    fn object<'de, A: MapAccess<'de>>(
        mut entries: Entries<A>,
        _feed: Option<&Feed>,
    ) -> Result<Self::Out, A::Error> {
        let mut fields = RowFields::default();
        while let Some(key) = entries.next_key()? {
            let value = entries.map.next_value()?;
            fields.insert(key, value);
        }
        Ok(match fields.into_row() {
            Ok(row) => Held::Typed(row),
            Err(value) => Held::Json(value),
        })
    }
}

/// `T` read as the node `N`, strictly: refused unless the typed form holds it
/// exactly.
fn strict<'de, N, T, D>(d: D) -> Result<T, D::Error>
where
    N: Node<Out = Held<T>>,
    D: Deserializer<'de>,
{
    match Visit::<N>::new(None).deserialize(d)? {
        Held::Typed(typed) => Ok(typed),
        Held::Json(_) => Err(de::Error::custom(
            "not in the shape the typed form holds exactly",
        )),
    }
}

/// Read strictly: refused unless the typed form holds the row exactly
/// (`RowFields::into_row` decides).
impl<'de> Deserialize<'de> for StudentRow {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        strict::<Row, _, _>(d)
    }
}

/// Read strictly: every row as [`StudentRow`] is.
impl<'de> Deserialize<'de> for SupportRows {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        strict::<Support, _, _>(d)
    }
}
