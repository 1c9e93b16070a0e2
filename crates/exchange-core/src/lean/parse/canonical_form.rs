//! The canonical form of the values read by [`Reader::canonical`]: what
//! [`crate::canonical::write_value`] writes for the same value parsed by
//! serde_json, written straight from the line's text without building it.

use std::borrow::Cow;

use super::{Reader, Run};
use crate::canonical;

impl<'a> Reader<'a> {
    /// Read the next value (after whitespace) and append its canonical text to
    /// `out`. `None` also when an object holds two keys equal after NFC (the full
    /// parse decides which one wins).
    pub(in crate::lean) fn canonical(&mut self, out: &mut String) -> Option<()> {
        self.canonical_at(out, 0)
    }

    fn canonical_at(&mut self, out: &mut String, depth: usize) -> Option<()> {
        self.skip_ws();
        match self.peek()? {
            b'"' => {
                let (start, run) = self.string_run()?;
                match run {
                    Run::Plain => {
                        out.push('"');
                        out.push_str(self.text.get(start..self.pos - 1)?);
                        out.push('"');
                    }
                    Run::Text => canonical::write_str(out, self.text.get(start..self.pos - 1)?),
                    Run::Escaped => canonical::write_str(out, &self.escaped_string(start)?),
                }
            }
            b'[' => {
                let depth = self.enter(depth)?;
                out.push('[');
                let mut first = true;
                self.items(b']', |r| {
                    if !std::mem::take(&mut first) {
                        out.push(',');
                    }
                    r.canonical_at(out, depth)
                })?;
                out.push(']');
            }
            b'{' => {
                let depth = self.enter(depth)?;
                self.canonical_object(out, depth)?;
            }
            b't' | b'f' | b'n' => out.push_str(self.keyword()?),
            b'-' | b'0'..=b'9' => canonical::write_number_text(out, self.number()?),
            _ => return None,
        }
        Some(())
    }

    /// After `{`: the entries' values go to a buffer of their own, then out in
    /// the order of their NFC keys.
    fn canonical_object(&mut self, out: &mut String, depth: usize) -> Option<()> {
        let mut values = self
            .spare
            .pop()
            .unwrap_or_else(|| String::with_capacity(1024));
        values.clear();
        let mark = self.keys.len();
        self.items(b'}', |r| {
            let (text, plain) = r.key_text()?;
            let key = Key::of(text, plain);
            let start = values.len();
            r.canonical_at(&mut values, depth)?;
            r.keys.push((key, start, values.len()));
            Some(())
        })?;
        self.write_sorted(out, mark, values)
    }

    /// Write the object whose entries are `self.keys[mark..]` (their values'
    /// canonical texts in `values`) in the order of their NFC keys, then give
    /// `values` back to the spare buffers. `None` when two keys are equal.
    pub(super) fn write_sorted(
        &mut self,
        out: &mut String,
        mark: usize,
        values: String,
    ) -> Option<()> {
        let entries = self.keys.get_mut(mark..)?;
        // Often in order already (then no two are equal either).
        let ordered = |entries: &[(Key<'_>, usize, usize)]| {
            entries
                .windows(2)
                .all(|w| matches!(w, [a, b] if a.0.order(&b.0).is_lt()))
        };
        if !ordered(entries) {
            entries.sort_unstable_by(|a, b| a.0.order(&b.0));
            if !ordered(entries) {
                return None;
            }
        }
        out.push('{');
        for (i, (key, start, end)) in entries.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            match key {
                Key::Plain(k) => {
                    out.push('"');
                    out.push_str(k);
                    out.push('"');
                }
                Key::Nfc(k) => canonical::write_escaped(out, k),
            }
            out.push(':');
            out.push_str(values.get(*start..*end)?);
        }
        out.push('}');
        self.keys.truncate(mark);
        self.spare.push(values);
        Some(())
    }
}

/// An object key on its way to canonical text.
pub(super) enum Key<'a> {
    /// ASCII with nothing to escape: already NFC, written as is.
    Plain(&'a str),
    /// Any other key, in NFC (still to escape).
    Nfc(Cow<'a, str>),
}

impl<'a> Key<'a> {
    /// The key whose text is `text` (`plain`: ASCII with nothing to escape).
    #[inline]
    pub(super) fn of(text: Cow<'a, str>, plain: bool) -> Self {
        match text {
            Cow::Borrowed(k) if plain => Key::Plain(k),
            text => Key::Nfc(nfc_key(text)),
        }
    }

    fn text(&self) -> &str {
        match self {
            Key::Plain(k) => k,
            Key::Nfc(k) => k,
        }
    }

    /// The order of the texts: by the first bytes when they differ (most
    /// keys of an object), else by the whole texts (a call to `memcmp`).
    fn order(&self, other: &Self) -> std::cmp::Ordering {
        let (a, b) = (self.text(), other.text());
        match (a.as_bytes().first(), b.as_bytes().first()) {
            (Some(x), Some(y)) if x != y => x.cmp(y),
            _ => a.cmp(b),
        }
    }
}

/// `key` in NFC, borrowed from the line when it already is.
fn nfc_key(key: Cow<'_, str>) -> Cow<'_, str> {
    match key {
        Cow::Borrowed(k) => canonical::nfc(k),
        Cow::Owned(k) => match canonical::nfc(&k) {
            Cow::Borrowed(_) => Cow::Owned(k),
            Cow::Owned(n) => Cow::Owned(n),
        },
    }
}
