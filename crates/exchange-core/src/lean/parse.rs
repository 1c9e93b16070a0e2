//! A strict JSON reader for the fast path: one pass over the line's bytes, each
//! value read either into a [`Node`] (borrowing every string without escapes and
//! every number's text; for the envelope's small fields) or straight into its
//! canonical text ([`Reader::canonical`]; for `request` and `response`; `add`
//! writes the pack line's spelling at the same time, [`Reader::two_forms`]). It
//! accepts a subset of what serde_json accepts (RFC 8259, no trailing commas, no
//! comments, at most [`MAX_DEPTH`] levels) and answers `None` for everything
//! else, so the caller falls back to the full parse.
//!
//! Why not serde_json here: with `arbitrary_precision` every number reaches a
//! visitor as a one-entry map holding its text, and each value goes through the
//! visitor machinery; on a 1.9 KB record that was about half of the import's
//! parse-and-hash time.

use std::borrow::Cow;

use super::{Node, Plain};
use canonical_form::Key;
pub use two_forms::Seen;

mod canonical_form;
mod two_forms;

/// With `arbitrary_precision`, serde_json reads an object whose key is
/// `$serde_json::private::Number` as a number: the full parse would see another
/// value than this reader, so such keys are left to it.
const SERDE_TOKEN: &str = "$serde_json::private::";

/// Deeper documents are left to the full parse (serde_json allows 128).
const MAX_DEPTH: usize = 64;

/// A cursor over one line.
pub(super) struct Reader<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    /// The values of the arrays being read, innermost last: each array takes
    /// its own run off the top into one exactly sized `Vec` (no regrowth).
    items: Vec<Node<'a>>,
    /// The same for object entries.
    entries: Vec<(Cow<'a, str>, Node<'a>)>,
    /// For [`Reader::canonical`]: the entries of the objects being written, each
    /// an NFC key and where its value's canonical text lies in that object's
    /// buffer, innermost object last.
    keys: Vec<(Key<'a>, usize, usize)>,
    /// Spare buffers for the values of objects being written (one per level in
    /// use; kept for the next object).
    spare: Vec<String>,
}

impl<'a> Reader<'a> {
    /// A reader of `text` that takes its object buffers from `spare` (give
    /// them back with [`Reader::into_spare`] to reuse them for the next line).
    pub(super) fn with_spare(text: &'a str, spare: Vec<String>) -> Self {
        Reader {
            spare,
            ..Reader::new(text)
        }
    }

    /// The object buffers, for the next reader.
    pub(super) fn into_spare(self) -> Vec<String> {
        self.spare
    }

    pub(super) fn new(text: &'a str) -> Self {
        Reader {
            text,
            bytes: text.as_bytes(),
            pos: 0,
            items: Vec::new(),
            entries: Vec::new(),
            keys: Vec::with_capacity(16),
            spare: Vec::new(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    /// Skip JSON whitespace (space, tab, newline, carriage return).
    pub(super) fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// Consume `b` (after whitespace), or fail.
    pub(super) fn expect(&mut self, b: u8) -> Option<()> {
        self.skip_ws();
        (self.peek()? == b).then(|| self.pos += 1)
    }

    /// After whitespace: consume `b` if it is next, and say whether it was.
    pub(super) fn eat(&mut self, b: u8) -> bool {
        self.skip_ws();
        let found = self.peek() == Some(b);
        if found {
            self.pos += 1;
        }
        found
    }

    /// Whether only whitespace is left.
    pub(super) fn at_end(&mut self) -> bool {
        self.skip_ws();
        self.pos == self.bytes.len()
    }

    /// After an opening bracket: `item` for each element up to `close`, the
    /// elements separated by commas (none trailing).
    pub(super) fn items(
        &mut self,
        close: u8,
        mut item: impl FnMut(&mut Self) -> Option<()>,
    ) -> Option<()> {
        if self.eat(close) {
            return Some(());
        }
        loop {
            item(self)?;
            if !self.eat(b',') {
                return self.expect(close);
            }
        }
    }

    /// Past the `[` or `{` (at the cursor) of a value at `depth`: the depth
    /// of its items, or `None` past [`MAX_DEPTH`].
    fn enter(&mut self, depth: usize) -> Option<usize> {
        let depth = depth + 1;
        if depth > MAX_DEPTH {
            return None;
        }
        self.pos += 1;
        Some(depth)
    }

    /// `true`, `false` or `null` (at the cursor): its text.
    fn keyword(&mut self) -> Option<&'static str> {
        let word = match self.peek()? {
            b't' => "true",
            b'f' => "false",
            _ => "null",
        };
        self.literal(word.as_bytes())?;
        Some(word)
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.pos.checked_add(word.len())?;
        (self.bytes.get(self.pos..end)? == word).then(|| self.pos = end)
    }

    /// A string (after whitespace) as a node: [`Node::Plain`] when it is ASCII
    /// and holds no escape (then it holds no quote, backslash or control
    /// character either), else [`Node::Str`].
    fn string_node(&mut self) -> Option<Node<'a>> {
        let (start, run) = self.string_run()?;
        let s = self.text.get(start..self.pos.checked_sub(1)?);
        Some(match run {
            Run::Plain => Node::Plain(Plain(s?)),
            Run::Text => Node::Str(Cow::Borrowed(s?)),
            Run::Escaped => Node::Str(Cow::Owned(self.escaped_string(start)?)),
        })
    }

    /// A string (after whitespace) up to its closing quote (the cursor after
    /// it) or its first escape (the cursor on it): where its text starts, and
    /// which. Two numbers come back in registers, where a node came back
    /// through memory and, read at once, stalled the store buffer.
    pub(super) fn string_run(&mut self) -> Option<(usize, Run)> {
        self.expect(b'"')?;
        let start = self.pos;
        let ascii = self.skip_plain()?;
        if self.peek()? == b'"' {
            self.pos += 1;
            return Some((start, if ascii { Run::Plain } else { Run::Text }));
        }
        Some((start, Run::Escaped))
    }

    /// The text of a string from `start` (after its quote) whose first escape
    /// is at the cursor, decoded; the cursor after the closing quote.
    pub(super) fn escaped_string(&mut self, start: usize) -> Option<String> {
        let mut out = String::with_capacity(self.pos - start + 16);
        out.push_str(self.text.get(start..self.pos)?);
        loop {
            match self.peek()? {
                b'"' => {
                    self.pos += 1;
                    return Some(out);
                }
                b'\\' => {
                    let escape = *self.bytes.get(self.pos + 1)?;
                    self.pos += 2;
                    out.push(match escape {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.unicode_escape()?,
                        _ => return None,
                    });
                }
                _ => {
                    let run = self.pos;
                    self.skip_plain()?;
                    out.push_str(self.text.get(run..self.pos)?);
                }
            }
        }
    }

    /// Move to the next `"` or `\` of a string; `None` at the end of the line or
    /// when a control character (never raw in JSON text) comes first. Answers
    /// whether the bytes passed were all ASCII.
    fn skip_plain(&mut self) -> Option<bool> {
        const ONES: u64 = u64::from_le_bytes([0x01; 8]);
        const HIGH: u64 = u64::from_le_bytes([0x80; 8]);
        /// The high bit of each byte of `x` below `n` (n <= 128). Only the lowest
        /// flag is exact (a borrow may flag a byte above it): enough to find the
        /// first such byte.
        const fn below(x: u64, n: u8) -> u64 {
            x.wrapping_sub(ONES * n as u64) & !x & HIGH
        }
        let mut ascii = true;
        let mut i = self.pos;
        // Eight bytes at a time: the first quote, backslash or control byte is
        // the lowest flagged one.
        while let Some(word) = self.bytes.get(i..i + 8) {
            let x = u64::from_le_bytes(word.try_into().ok()?);
            let stop = below(x ^ (ONES * u64::from(b'"')), 1)
                | below(x ^ (ONES * u64::from(b'\\')), 1)
                | below(x, 0x20);
            if stop != 0 {
                let k = stop.trailing_zeros() / 8;
                // The bytes before it (k < 8, so the shift is in range).
                ascii &= x & HIGH & ((1u64 << (8 * k)) - 1) == 0;
                i += k as usize;
                break;
            }
            ascii &= x & HIGH == 0;
            i += 8;
        }
        loop {
            match *self.bytes.get(i)? {
                b'"' | b'\\' => break,
                0..=0x1f => return None,
                b => ascii &= b < 0x80,
            }
            i += 1;
        }
        self.pos = i;
        Some(ascii)
    }

    /// An object key and the colon after it.
    pub(super) fn key(&mut self) -> Option<Cow<'a, str>> {
        self.key_text().map(|(key, _)| key)
    }

    /// [`Reader::key`] and whether it is plain ([`Plain`]).
    /// Inlined: see [`Reader::string_run`].
    #[inline(always)]
    pub(super) fn key_text(&mut self) -> Option<(Cow<'a, str>, bool)> {
        let (start, run) = self.string_run()?;
        let key = match run {
            Run::Escaped => Cow::Owned(self.escaped_string(start)?),
            _ => Cow::Borrowed(self.text.get(start..self.pos - 1)?),
        };
        self.key_end(&key)?;
        Some((key, run == Run::Plain))
    }

    /// After a key `key`: its colon. `None` for a key serde_json would read
    /// as something else ([`SERDE_TOKEN`]).
    fn key_end(&mut self, key: &str) -> Option<()> {
        if key.starts_with(SERDE_TOKEN) {
            return None;
        }
        self.expect(b':')
    }

    /// The four hex digits after `\u` (and a low surrogate's escape after a high
    /// one). A lone surrogate is left to the full parse.
    fn unicode_escape(&mut self) -> Option<char> {
        let first = self.hex4()?;
        match first {
            0xD800..=0xDBFF => {
                self.literal(b"\\u")?;
                let low = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&low) {
                    return None;
                }
                char::from_u32(0x10000 + ((first - 0xD800) << 10) + (low - 0xDC00))
            }
            0xDC00..=0xDFFF => None,
            _ => char::from_u32(first),
        }
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.bytes.get(self.pos..self.pos.checked_add(4)?)?;
        let mut v = 0u32;
        for &d in digits {
            v = v * 16 + char::from(d).to_digit(16)?;
        }
        self.pos += 4;
        Some(v)
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos - start
    }

    /// A number's text: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
    fn number(&mut self) -> Option<&'a str> {
        self.number_and_kind().map(|(text, _)| text)
    }

    /// [`Reader::number`], and whether it is a float (a fraction or an
    /// exponent).
    pub(super) fn number_and_kind(&mut self) -> Option<(&'a str, bool)> {
        let mut float = false;
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek()? {
            b'0' => self.pos += 1,
            b'1'..=b'9' => {
                self.digits();
            }
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            float = true;
            self.pos += 1;
            if self.digits() == 0 {
                return None;
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            float = true;
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return None;
            }
        }
        Some((self.text.get(start..self.pos)?, float))
    }

    /// `null` or an array of strings (after whitespace), checked and dropped:
    /// whether it held any.
    pub(super) fn string_list(&mut self) -> Option<bool> {
        self.skip_ws();
        if self.peek()? == b'n' {
            return self.literal(b"null").map(|()| false);
        }
        self.expect(b'[')?;
        let mut any = false;
        self.items(b']', |r| {
            any = true;
            r.string_node().map(drop)
        })?;
        Some(any)
    }

    /// `null` or an object (after whitespace) in which each key of `texts` holds
    /// null or a string (other keys: any value), checked and dropped.
    pub(super) fn object_of_texts(&mut self, texts: &[&str]) -> Option<()> {
        self.skip_ws();
        if self.peek()? == b'n' {
            return self.literal(b"null");
        }
        self.expect(b'{')?;
        self.items(b'}', |r| {
            let key = r.key()?;
            let value = r.value()?;
            let text = matches!(value, Node::Null | Node::Str(_) | Node::Plain(_));
            (text || !texts.contains(&key.as_ref())).then_some(())
        })
    }

    /// Any value (after whitespace).
    pub(super) fn value(&mut self) -> Option<Node<'a>> {
        self.value_at(0)
    }

    fn value_at(&mut self, depth: usize) -> Option<Node<'a>> {
        self.skip_ws();
        Some(match self.peek()? {
            b'"' => self.string_node()?,
            b'{' => {
                let depth = self.enter(depth)?;
                let mark = self.entries.len();
                self.items(b'}', |r| {
                    let key = r.key()?;
                    let value = r.value_at(depth)?;
                    r.entries.push((key, value));
                    Some(())
                })?;
                Node::Obj(self.entries.drain(mark..).collect())
            }
            b'[' => {
                let depth = self.enter(depth)?;
                let mark = self.items.len();
                self.items(b']', |r| {
                    let item = r.value_at(depth)?;
                    r.items.push(item);
                    Some(())
                })?;
                Node::Arr(self.items.drain(mark..).collect())
            }
            b't' => {
                self.literal(b"true")?;
                Node::Bool(true)
            }
            b'f' => {
                self.literal(b"false")?;
                Node::Bool(false)
            }
            b'n' => {
                self.literal(b"null")?;
                Node::Null
            }
            b'-' | b'0'..=b'9' => Node::Num(Cow::Borrowed(self.number()?)),
            _ => return None,
        })
    }
}

/// What [`Reader::string_run`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Run {
    /// The whole string, ASCII with nothing escaped ([`Node::Plain`]).
    Plain,
    /// The whole string, not all ASCII, nothing escaped.
    Text,
    /// The string up to its first escape.
    Escaped,
}

/// The text of a string node.
pub(super) fn text_of(node: Node<'_>) -> Option<Cow<'_, str>> {
    match node {
        Node::Str(s) => Some(s),
        Node::Plain(p) => Some(Cow::Borrowed(p.as_str())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Option<Node<'_>> {
        let mut r = Reader::new(text);
        let v = r.value()?;
        r.at_end().then_some(v)
    }

    #[test]
    fn reads_what_serde_json_reads() {
        for text in [
            r#"{"a":[1,-0,2.5e-3,1E+2,true,false,null],"b":{"c":"d"}}"#,
            " [ ] ",
            "{}",
            r#""\u00e9\ud83d\ude00\n\"\\\/\b\f\r\t""#,
            "18446744073709551616",
            "\"caf\u{e9}\"",
        ] {
            let ours = read(text).unwrap_or_else(|| panic!("refused {text:?}"));
            let theirs: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
            assert_eq!(to_value(&ours), theirs, "{text}");
        }
    }

    #[test]
    fn refuses_what_serde_json_refuses() {
        for text in [
            "",
            "{",
            "[1,]",
            "{\"a\":1,}",
            "{\"a\" 1}",
            "01",
            "1.",
            ".5",
            "-",
            "1e",
            "+1",
            "NaN",
            "Infinity",
            "tru",
            "nul",
            "\"a",
            "\"\\x\"",
            "\"\\u12\"",
            "\"\\ud800\"",
            "\"\\udc00x\"",
            "\"tab\there\"",
            "[1] [2]",
            "{'a':1}",
        ] {
            assert!(
                serde_json::from_str::<serde_json::Value>(text).is_err(),
                "{text:?}"
            );
            assert!(read(text).is_none(), "accepted {text:?}");
        }
    }

    #[test]
    fn deep_nesting_is_declined() {
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert!(read(&deep).is_none());
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(read(&ok).is_some());
    }

    #[test]
    fn strings_without_escapes_are_borrowed() {
        assert_eq!(read("\"plain\""), Some(Node::Plain(Plain("plain"))));
        assert_eq!(
            read("\"caf\u{e9}\""),
            Some(Node::Str(Cow::Borrowed("caf\u{e9}")))
        );
        let Some(Node::Str(s)) = read(r#""a\"b""#) else {
            panic!("not a string");
        };
        assert_eq!(s, "a\"b");
    }

    mod mutations {
        //! Property: on any text near valid JSON, this reader accepts exactly
        //! what serde_json accepts (minus its number token), with the same value.

        use proptest::prelude::*;

        use super::{Reader, SERDE_TOKEN, read, to_value};

        const BASE: &str = r#"{"a": [1, -0.5e3, "x\"y\u00e9\ud83d\ude00", {"b": null}], "c": true, "d": {"e": [], "f": {}}, "g": "café", "h": 12345678901234567890123}"#;

        /// Pieces a mutation inserts: JSON's own punctuation and tricky text.
        const PIECES: &[&str] = &[
            "{",
            "}",
            "[",
            "]",
            ",",
            ":",
            "\"",
            "\\",
            "\\u",
            "\\ud800",
            "\\udc00",
            "0",
            "-",
            ".",
            "e",
            "+",
            " ",
            "\t",
            "\n",
            "\u{1}",
            "é",
            "null",
            "true",
            "NaN",
            "01",
            "x",
            "\\n",
            "\"$serde_json::private::Number\"",
        ];

        fn mutate(base: &str, edits: &[(usize, usize, bool)]) -> String {
            let mut s = base.to_owned();
            for &(at, piece, delete) in edits {
                let mut at = at % (s.len() + 1);
                while !s.is_char_boundary(at) {
                    at -= 1;
                }
                if delete && at < s.len() {
                    s.remove(at);
                } else {
                    s.insert_str(at, PIECES[piece % PIECES.len()]);
                }
            }
            s
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(4096))]

            #[test]
            fn accepts_exactly_what_serde_json_accepts(
                edits in proptest::collection::vec((0usize..512, 0usize..64, any::<bool>()), 1..4)
            ) {
                let text = mutate(BASE, &edits);
                let theirs = serde_json::from_str::<serde_json::Value>(&text);
                // The canonical text written while reading is the full path's.
                let mut ours = String::new();
                let mut r = Reader::new(&text);
                if r.canonical(&mut ours).is_some() && r.at_end() {
                    let value = theirs.as_ref().map_err(|e| {
                        TestCaseError::fail(format!("canonical accepted {text:?}: {e}"))
                    })?;
                    let mut full = String::new();
                    crate::canonical::write_value(&mut full, value);
                    prop_assert_eq!(ours, full, "{}", text);
                }
                match read(&text) {
                    Some(ours) => {
                        let theirs = theirs.map_err(|e| {
                            TestCaseError::fail(format!("accepted {text:?}: serde_json says {e}"))
                        })?;
                        prop_assert_eq!(to_value(&ours), theirs, "{}", text);
                    }
                    None => prop_assert!(
                        theirs.is_err() || text.contains(SERDE_TOKEN),
                        "refused valid {:?}", text
                    ),
                }
            }
        }
    }

    /// The same value as serde_json builds (numbers through f64/ints).
    fn to_value(n: &Node<'_>) -> serde_json::Value {
        use serde_json::Value;
        match n {
            Node::Null => Value::Null,
            Node::Bool(b) => Value::Bool(*b),
            Node::Num(t) => serde_json::from_str(t).unwrap_or(Value::Null),
            Node::Str(s) => Value::String(s.to_string()),
            Node::Plain(p) => {
                // What the reader calls plain, the checked constructor does too.
                assert_eq!(Plain::new(p.as_str()), Some(*p));
                Value::String(p.as_str().to_owned())
            }
            Node::Arr(items) => Value::Array(items.iter().map(to_value).collect()),
            Node::Obj(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.to_string(), to_value(v)))
                    .collect(),
            ),
        }
    }
}
