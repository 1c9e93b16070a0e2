//! `add`'s payloads read in one pass, with no tree: each value written at once
//! in its canonical form (what [`Reader::canonical`] writes, the hash input)
//! and in the pack line's spelling (what [`crate::record::write_py`] writes for
//! the same value parsed by serde_json), each object key and string shown to
//! the caller on the way (the redactor's screen decides from them whether the
//! value can be stored as it is).

use super::canonical_form::Key;
use super::{Reader, Run};
use crate::canonical::{self, write_escaped, write_plain};

/// What `Reader::two_forms` shows its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen<'s> {
    /// An object key (decoded).
    Key(&'s str),
    /// A string value (decoded).
    Text(&'s str),
}

impl<'a> Reader<'a> {
    /// Read the next value (after whitespace): its canonical text to
    /// `canonical`, its pack line text to `py`. `visit` sees each key and
    /// string; its `false` stops the reading (`None`). `None` also where
    /// [`Reader::canonical`] gives none, and for a float beyond `f64` (which
    /// `add` refuses, naming where).
    pub(in crate::lean) fn two_forms(
        &mut self,
        canonical: &mut String,
        py: &mut String,
        visit: &mut dyn FnMut(Seen<'_>) -> bool,
    ) -> Option<()> {
        self.two_forms_at(canonical, py, 0, visit)
    }

    fn two_forms_at(
        &mut self,
        c: &mut String,
        py: &mut String,
        depth: usize,
        visit: &mut dyn FnMut(Seen<'_>) -> bool,
    ) -> Option<()> {
        self.skip_ws();
        match self.peek()? {
            b'"' => {
                let (start, run) = self.string_run()?;
                let owned;
                let s = match run {
                    Run::Escaped => {
                        owned = self.escaped_string(start)?;
                        owned.as_str()
                    }
                    _ => self.text.get(start..self.pos - 1)?,
                };
                visit(Seen::Text(s)).then_some(())?;
                if run == Run::Plain {
                    write_plain(c, s);
                    write_plain(py, s);
                } else {
                    canonical::write_str(c, s);
                    write_escaped(py, s);
                }
            }
            b'[' => {
                let depth = self.enter(depth)?;
                c.push('[');
                py.push('[');
                let mut first = true;
                self.items(b']', |r| {
                    if !std::mem::take(&mut first) {
                        c.push(',');
                        py.push_str(", ");
                    }
                    r.two_forms_at(c, py, depth, visit)
                })?;
                c.push(']');
                py.push(']');
            }
            b'{' => {
                // The entries go to `py` in input order, and their canonical
                // values to a buffer of their own, then to `c` in the order of
                // their NFC keys ([`Reader::write_sorted`]).
                let depth = self.enter(depth)?;
                let mut values = self.spare.pop().unwrap_or_default();
                values.clear();
                let mark = self.keys.len();
                py.push('{');
                self.items(b'}', |r| {
                    let (text, plain) = r.key_text()?;
                    visit(Seen::Key(&text)).then_some(())?;
                    if r.keys.len() > mark {
                        py.push_str(", ");
                    }
                    if plain {
                        write_plain(py, &text);
                    } else {
                        write_escaped(py, &text);
                    }
                    py.push_str(": ");
                    let key = Key::of(text, plain);
                    let start = values.len();
                    r.two_forms_at(&mut values, py, depth, visit)?;
                    r.keys.push((key, start, values.len()));
                    Some(())
                })?;
                py.push('}');
                self.write_sorted(c, mark, values)?;
            }
            b't' | b'f' | b'n' => {
                let word = self.keyword()?;
                c.push_str(word);
                py.push_str(word);
            }
            b'-' | b'0'..=b'9' => {
                let (n, float) = self.number_and_kind()?;
                if !float {
                    let integer = canonical::integer_spelling(n);
                    c.push_str(integer);
                    py.push_str(integer);
                } else {
                    // A float beyond `f64` is refused.
                    let x = n.parse::<f64>().ok().filter(|x| x.is_finite())?;
                    canonical::write_float_forms(c, py, n, x);
                }
            }
            _ => return None,
        }
        Some(())
    }
}
