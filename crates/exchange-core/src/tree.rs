//! A JSON value as the writers and the redactor see it, whichever reader built
//! it: serde_json's `Value` (the full parse) or the lean reader's
//! [`Node`] (the fast path of `add`). The canonical hash input
//! ([`crate::canonical::write_value`]), the pack line ([`crate::record::write_py`])
//! and the redaction walk ([`crate::redaction::Redactor`]) are each written once,
//! over these traits, so both roads give the same bytes by construction.

use std::borrow::Cow;

use serde_json::Value;

use crate::lean::Node;

/// What one node of a tree is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind<'v> {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A number, as written (valid JSON number text).
    Num(&'v str),
    /// A string.
    Str(&'v str),
    /// A string known to be ASCII with nothing JSON escapes: its written form
    /// is its text in quotes (a [`Str`](Kind::Str) the writers need not scan).
    Plain(&'v str),
    /// An array: its items are [`Tree::items`].
    Arr,
    /// An object: its entries are [`Tree::entries`], in input order.
    Obj,
}

/// A JSON value, read-only.
pub trait Tree {
    /// What this node is.
    fn kind(&self) -> Kind<'_>;
    /// An array's items (nothing for any other node).
    fn items(&self) -> impl Iterator<Item = &Self>;
    /// An object's entries in input order (nothing for any other node).
    fn entries(&self) -> impl Iterator<Item = (&str, &Self)>;
}

/// A JSON value whose strings can be replaced (what the redactor needs).
pub trait TreeMut: Tree {
    /// If this node is a string: replace its text with `f`'s answer, when
    /// there is one (other nodes: `f` is not called).
    fn map_text(&mut self, f: impl FnOnce(&str) -> Option<String>);
    /// An array's items (nothing for any other node).
    fn items_mut(&mut self) -> impl Iterator<Item = &mut Self>;
    /// An object's entries in input order (nothing for any other node).
    fn entries_mut(&mut self) -> impl Iterator<Item = (&str, &mut Self)>;
}

impl Tree for Value {
    fn kind(&self) -> Kind<'_> {
        match self {
            Value::Null => Kind::Null,
            Value::Bool(b) => Kind::Bool(*b),
            Value::Number(n) => Kind::Num(n.as_str()),
            Value::String(s) => Kind::Str(s),
            Value::Array(_) => Kind::Arr,
            Value::Object(_) => Kind::Obj,
        }
    }

    fn items(&self) -> impl Iterator<Item = &Self> {
        self.as_array().into_iter().flatten()
    }

    fn entries(&self) -> impl Iterator<Item = (&str, &Self)> {
        self.as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.as_str(), v))
    }
}

impl TreeMut for Value {
    fn map_text(&mut self, f: impl FnOnce(&str) -> Option<String>) {
        if let Value::String(s) = self
            && let Some(new) = f(s)
        {
            *s = new;
        }
    }

    fn items_mut(&mut self) -> impl Iterator<Item = &mut Self> {
        self.as_array_mut().into_iter().flatten()
    }

    fn entries_mut(&mut self) -> impl Iterator<Item = (&str, &mut Self)> {
        self.as_object_mut()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.as_str(), v))
    }
}

impl Tree for Node<'_> {
    fn kind(&self) -> Kind<'_> {
        match self {
            Node::Null => Kind::Null,
            Node::Bool(b) => Kind::Bool(*b),
            Node::Num(n) => Kind::Num(n),
            Node::Str(s) => Kind::Str(s),
            Node::Plain(p) => Kind::Plain(p.as_str()),
            Node::Arr(_) => Kind::Arr,
            Node::Obj(_) => Kind::Obj,
        }
    }

    fn items(&self) -> impl Iterator<Item = &Self> {
        match self {
            Node::Arr(items) => items.as_slice(),
            _ => &[],
        }
        .iter()
    }

    fn entries(&self) -> impl Iterator<Item = (&str, &Self)> {
        match self {
            Node::Obj(entries) => entries.as_slice(),
            _ => &[],
        }
        .iter()
        .map(|(k, v)| (k.as_ref(), v))
    }
}

impl TreeMut for Node<'_> {
    fn map_text(&mut self, f: impl FnOnce(&str) -> Option<String>) {
        let new = match self {
            Node::Str(s) => f(s),
            Node::Plain(p) => f(p.as_str()),
            _ => None,
        };
        if let Some(new) = new {
            *self = Node::Str(Cow::Owned(new));
        }
    }

    fn items_mut(&mut self) -> impl Iterator<Item = &mut Self> {
        match self {
            Node::Arr(items) => Some(items.iter_mut()),
            _ => None,
        }
        .into_iter()
        .flatten()
    }

    fn entries_mut(&mut self) -> impl Iterator<Item = (&str, &mut Self)> {
        match self {
            Node::Obj(entries) => Some(entries.iter_mut()),
            _ => None,
        }
        .into_iter()
        .flatten()
        .map(|(k, v)| (&**k, v))
    }
}

/// A lone string (a record's `natural_key`, a tag, a provenance value) is a
/// tree of one node.
impl Tree for String {
    fn kind(&self) -> Kind<'_> {
        Kind::Str(self)
    }

    fn items(&self) -> impl Iterator<Item = &Self> {
        std::iter::empty()
    }

    fn entries(&self) -> impl Iterator<Item = (&str, &Self)> {
        std::iter::empty()
    }
}

impl TreeMut for String {
    fn map_text(&mut self, f: impl FnOnce(&str) -> Option<String>) {
        if let Some(new) = f(self) {
            *self = new;
        }
    }

    fn items_mut(&mut self) -> impl Iterator<Item = &mut Self> {
        std::iter::empty()
    }

    fn entries_mut(&mut self) -> impl Iterator<Item = (&str, &mut Self)> {
        std::iter::empty()
    }
}
