//! A reader that drops the layout whitespace of a JSON text before the parser sees
//! it. A printed bundle is more than a third indentation, and the streaming
//! parser pays per byte; a tight scan here costs a fraction of that.
//!
//! Only whitespace that follows a structural character (`{ [ , : } ]`) or the
//! closing quote of a string is dropped, and none inside strings, so the text the
//! parser sees is valid JSON exactly when the original is: no two tokens are ever
//! joined into one (`tr ue` stays two), and a value's text is unchanged. Error
//! positions differ from the file's; callers that show a message read the
//! document again whole.

use std::io::{BufRead, Read};

/// See the module doc.
pub(crate) struct Squeeze<R> {
    inner: R,
    in_string: bool,
    escaped: bool,
    /// Whitespace here may be dropped.
    droppable: bool,
}

impl<R: BufRead> Squeeze<R> {
    pub(crate) fn new(inner: R) -> Self {
        Squeeze {
            inner,
            in_string: false,
            escaped: false,
            droppable: true,
        }
    }
}

impl<R: BufRead> Read for Squeeze<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let input = self.inner.fill_buf()?;
            if input.is_empty() || out.is_empty() {
                return Ok(0);
            }
            let (mut read, mut wrote) = (0, 0);
            for &b in input {
                if wrote == out.len() {
                    break;
                }
                read += 1;
                if self.in_string {
                    if self.escaped {
                        self.escaped = false;
                    } else if b == b'\\' {
                        self.escaped = true;
                    } else if b == b'"' {
                        self.in_string = false;
                        self.droppable = true;
                    }
                } else {
                    match b {
                        b' ' | b'\n' | b'\r' | b'\t' if self.droppable => continue,
                        b'"' => self.in_string = true,
                        _ => {}
                    }
                    self.droppable = matches!(b, b'{' | b'[' | b',' | b':' | b'}' | b']');
                }
                if let Some(slot) = out.get_mut(wrote) {
                    *slot = b;
                }
                wrote += 1;
            }
            self.inner.consume(read);
            if wrote > 0 {
                return Ok(wrote);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn squeeze(text: &str) -> String {
        let mut out = String::new();
        let reader = std::io::BufReader::with_capacity(3, text.as_bytes());
        let _ = Squeeze::new(reader).read_to_string(&mut out);
        out
    }

    #[test]
    fn layout_goes_and_tokens_stay_apart() {
        assert_eq!(
            squeeze("{\n  \"a b\": [ 1 , 2.5 ],\n  \"c\\\" \": tr ue , \"d\" :\tnull }\n"),
            "{\"a b\":[1 ,2.5 ],\"c\\\" \":tr ue ,\"d\":null }"
        );
        for text in [r#"{"a": 1 2}"#, "[tr ue]", r#"["a" "b"]"#, "[1, -]"] {
            let squeezed = squeeze(text);
            assert!(
                serde_json::from_str::<serde_json::Value>(&squeezed).is_err(),
                "{text}"
            );
        }
    }
}
