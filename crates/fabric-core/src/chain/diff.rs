//! The structural diff between two versions of a JSON document.
//!
//! Paths are RFC 6901 JSON pointers (`""` is the whole document, `/a/0/b~1c` is key
//! `b/c` of the first element of `a`). Objects are compared key by key, arrays index
//! by index; anything else, including a value that changes type (`1` → `"1"`,
//! `[]` → `{}`), is one `modified` entry at that path. Scalars are equal when their
//! canonical spellings are ([`crate::json::to_canonical_string`]), the same rule the
//! checksum uses: `1.0` and `1.00` are the same value, `1` and `1.0` are not.
//!
//! [`apply`] turns the old document into the new one: modifications first, then
//! deletions in reverse order (so array indices stay valid), then additions in
//! order. Applying `diff(a, b)` to `a` gives a document whose canonical form is `b`'s.
//! Object keys are visited in code-point order, so entries come out in canonical
//! document order whatever order the inputs were written in.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::json::canonical_number;

/// A path that exists only in the new document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Added {
    /// JSON pointer.
    pub path: String,
    /// The new value.
    pub value: Value,
}

/// A path whose value differs (including a change of type).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Modified {
    /// JSON pointer.
    pub path: String,
    /// The old value.
    pub old: Value,
    /// The new value.
    pub new: Value,
}

/// A path that exists only in the old document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Deleted {
    /// JSON pointer.
    pub path: String,
    /// The old value.
    pub old: Value,
}

/// Everything that differs between two documents, in document order.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Diff {
    /// Paths only in the new document.
    pub added: Vec<Added>,
    /// Paths whose value changed.
    pub modified: Vec<Modified>,
    /// Paths only in the old document.
    pub deleted: Vec<Deleted>,
}

impl Diff {
    /// Whether the documents are the same.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.modified.is_empty() && self.deleted.is_empty()
    }
}

/// A diff that does not fit the document it is applied to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot apply the change at path {path:?}: {reason}")]
pub struct ApplyError {
    /// The change's path.
    pub path: String,
    /// Why it does not fit.
    pub reason: &'static str,
}

/// The structural diff from `old` to `new`.
pub fn diff(old: &Value, new: &Value) -> Diff {
    let mut out = Diff::default();
    let mut path = String::new();
    walk(old, new, &mut path, &mut out);
    out
}

/// Apply `diff` to `old`, giving the new document.
pub fn apply(old: &Value, diff: &Diff) -> Result<Value, ApplyError> {
    let mut doc = old.clone();
    for m in &diff.modified {
        *locate(&mut doc, &m.path)? = m.new.clone();
    }
    for d in diff.deleted.iter().rev() {
        let (parent, token) = split_last(&d.path)?;
        match locate(&mut doc, parent)? {
            Value::Object(map) => {
                map.shift_remove(&token)
                    .ok_or_else(|| fail(&d.path, "no such key"))?;
            }
            Value::Array(items) => {
                let i = index(&token, &d.path)?;
                if i >= items.len() {
                    return Err(fail(&d.path, "index out of range"));
                }
                items.remove(i);
            }
            _ => return Err(fail(&d.path, "parent is not a container")),
        }
    }
    for a in &diff.added {
        let (parent, token) = split_last(&a.path)?;
        match locate(&mut doc, parent)? {
            Value::Object(map) => {
                map.insert(token, a.value.clone());
            }
            Value::Array(items) => {
                if index(&token, &a.path)? != items.len() {
                    return Err(fail(&a.path, "added index is not the array's end"));
                }
                items.push(a.value.clone());
            }
            _ => return Err(fail(&a.path, "parent is not a container")),
        }
    }
    Ok(doc)
}

/// Append `/token` to a JSON pointer, escaping `~` and `/`.
pub fn push_pointer_token(path: &mut String, token: &str) {
    path.push('/');
    for c in token.chars() {
        match c {
            '~' => path.push_str("~0"),
            '/' => path.push_str("~1"),
            _ => path.push(c),
        }
    }
}

/// Whether two scalars (or whole values) are the same by canonical spelling.
fn same_scalar(a: &Value, b: &Value) -> bool {
    match (a, b) {
        // Same text is the same number; only differing spellings need the
        // (costlier) canonical form.
        (Value::Number(x), Value::Number(y)) => {
            x.as_str() == y.as_str() || canonical_number(x) == canonical_number(y)
        }
        _ => a == b,
    }
}

fn walk(old: &Value, new: &Value, path: &mut String, out: &mut Diff) {
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => walk_objects(a, b, path, out),
        (Value::Array(a), Value::Array(b)) => {
            let common = a.len().min(b.len());
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                let len = path.len();
                path.push('/');
                path.push_str(&i.to_string());
                walk(x, y, path, out);
                path.truncate(len);
            }
            for (i, x) in a.iter().enumerate().skip(common) {
                out.deleted.push(Deleted {
                    path: format!("{path}/{i}"),
                    old: x.clone(),
                });
            }
            for (i, y) in b.iter().enumerate().skip(common) {
                out.added.push(Added {
                    path: format!("{path}/{i}"),
                    value: y.clone(),
                });
            }
        }
        _ if same_scalar(old, new) => {}
        _ => out.modified.push(Modified {
            path: path.clone(),
            old: old.clone(),
            new: new.clone(),
        }),
    }
}

/// Keys are visited in code-point order (the canonical order), whatever order the
/// documents were written in, so a diff's entries are deterministic.
fn walk_objects(a: &Map<String, Value>, b: &Map<String, Value>, path: &mut String, out: &mut Diff) {
    let mut old_keys: Vec<(&String, &Value)> = a.iter().collect();
    old_keys.sort_unstable_by(|x, y| x.0.cmp(y.0));
    let mut new_keys: Vec<(&String, &Value)> =
        b.iter().filter(|(k, _)| !a.contains_key(*k)).collect();
    new_keys.sort_unstable_by(|x, y| x.0.cmp(y.0));
    for (key, x) in old_keys {
        let len = path.len();
        push_pointer_token(path, key);
        match b.get(key) {
            Some(y) => walk(x, y, path, out),
            None => out.deleted.push(Deleted {
                path: path.clone(),
                old: x.clone(),
            }),
        }
        path.truncate(len);
    }
    for (key, y) in new_keys {
        let mut p = path.clone();
        push_pointer_token(&mut p, key);
        out.added.push(Added {
            path: p,
            value: y.clone(),
        });
    }
}

fn fail(path: &str, reason: &'static str) -> ApplyError {
    ApplyError {
        path: path.to_owned(),
        reason,
    }
}

fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

fn index(token: &str, path: &str) -> Result<usize, ApplyError> {
    token
        .parse()
        .map_err(|_| fail(path, "array index is not a number"))
}

/// Split a non-root pointer into its parent pointer and its last (unescaped) token.
fn split_last(path: &str) -> Result<(&str, String), ApplyError> {
    path.rsplit_once('/')
        .map(|(parent, last)| (parent, unescape(last)))
        .ok_or_else(|| fail(path, "the whole document cannot be added or deleted"))
}

fn locate<'v>(doc: &'v mut Value, path: &str) -> Result<&'v mut Value, ApplyError> {
    if path.is_empty() {
        return Ok(doc);
    }
    let rest = path
        .strip_prefix('/')
        .ok_or_else(|| fail(path, "a pointer starts with '/'"))?;
    let mut here = doc;
    for raw in rest.split('/') {
        let token = unescape(raw);
        here = match here {
            Value::Object(map) => map
                .get_mut(&token)
                .ok_or_else(|| fail(path, "no such key"))?,
            Value::Array(items) => {
                let i = index(&token, path)?;
                items
                    .get_mut(i)
                    .ok_or_else(|| fail(path, "index out of range"))?
            }
            _ => return Err(fail(path, "steps into a scalar")),
        };
    }
    Ok(here)
}
