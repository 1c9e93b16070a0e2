//! Reading a bundle for export without parsing its oracle payloads on the reading
//! thread: [`Elide`] passes the bundle text through, except the value of
//! `snapshot.oracles`, which it replaces with `{}` and hands, byte for byte, to a
//! checker thread that parses it as JSON (so a bundle is refused for a broken
//! payload exactly as when the reading thread parsed it). The payloads are the
//! larger part of a bundle; the reading thread then parses the projections while
//! the other core checks the payloads.
//!
//! The elision only recognises the key spelled plainly (`"oracles"` inside the
//! top-level `"snapshot"` object) with an object value; any other spelling is
//! passed through and parsed on the reading thread, as before.

use std::io::{BufRead, Read};
use std::sync::mpsc::{Receiver, SyncSender};

/// Bytes of payload text in flight to the checker.
const IN_FLIGHT: usize = 32;

/// The state of the structural scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Passing bytes through.
    Pass,
    /// Inside the elided value, at this nesting depth below it.
    Skip(usize),
    /// The elided value is done; everything else passes.
    Done,
}

/// A reader that elides `snapshot.oracles` (see the module doc).
pub(crate) struct Elide<R> {
    inner: R,
    to_checker: Option<SyncSender<Vec<u8>>>,
    mode: Mode,
    depth: usize,
    in_string: bool,
    escaped: bool,
    /// The text of the string being read (up to 16 bytes; longer is `None`).
    string: Option<Vec<u8>>,
    /// The last complete string at the current position.
    last_string: Option<Vec<u8>>,
    /// The top-level key whose value is being read.
    top_key: Option<Vec<u8>>,
    /// `{}` still to hand out in place of the elided value.
    pending: &'static [u8],
}

impl<R: BufRead> Elide<R> {
    pub(crate) fn new(inner: R, to_checker: SyncSender<Vec<u8>>) -> Self {
        Elide {
            inner,
            to_checker: Some(to_checker),
            mode: Mode::Pass,
            depth: 0,
            in_string: false,
            escaped: false,
            string: None,
            last_string: None,
            top_key: None,
            pending: b"",
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        if let Some(tx) = &self.to_checker
            && !bytes.is_empty()
            && tx.send(bytes.to_vec()).is_err()
        {
            // The checker stopped (it found an error and reports it).
            self.to_checker = None;
        }
    }

    /// Scan `buf` in pass mode; the index where an elided value starts, if any.
    fn scan_pass(&mut self, buf: &[u8]) -> Option<usize> {
        for (i, &b) in buf.iter().enumerate() {
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                    self.string = None;
                } else if b == b'\\' {
                    self.escaped = true;
                    self.string = None;
                } else if b == b'"' {
                    self.in_string = false;
                    self.last_string = self.string.take();
                } else if let Some(s) = &mut self.string {
                    if s.len() < 16 {
                        s.push(b);
                    } else {
                        self.string = None;
                    }
                }
                continue;
            }
            match b {
                b'"' => {
                    self.in_string = true;
                    self.string = Some(Vec::new());
                    self.last_string = None;
                }
                b':' => {
                    let key = self.last_string.take();
                    if self.depth == 1 {
                        self.top_key = key;
                    } else if self.depth == 2
                        && self.mode == Mode::Pass
                        && self.top_key.as_deref() == Some(b"snapshot")
                        && key.as_deref() == Some(b"oracles")
                    {
                        self.last_string = Some(b"oracles:".to_vec());
                    }
                }
                b'{' | b'[' => {
                    let at_oracles = b == b'{'
                        && self.mode == Mode::Pass
                        && self.last_string.as_deref() == Some(b"oracles:");
                    self.last_string = None;
                    if at_oracles {
                        return Some(i);
                    }
                    self.depth += 1;
                }
                b'}' | b']' => {
                    self.last_string = None;
                    self.depth = self.depth.saturating_sub(1);
                }
                b' ' | b'\n' | b'\r' | b'\t' => {}
                _ => self.last_string = None,
            }
        }
        None
    }

    /// Scan `buf` in skip mode (starting inside the value); the index just past
    /// its closing brace, if it ends in `buf`.
    fn scan_skip(&mut self, buf: &[u8], mut level: usize) -> (Option<usize>, usize) {
        let mut i = 0;
        while let Some(&b) = buf.get(i) {
            if self.escaped {
                self.escaped = false;
                i += 1;
                continue;
            }
            if self.in_string {
                // Straight to the string's next quote or backslash.
                let rest = buf.get(i..).unwrap_or_default();
                let Some(k) = memchr::memchr2(b'"', b'\\', rest) else {
                    return (None, level);
                };
                i += k;
                if buf.get(i) == Some(&b'\\') {
                    self.escaped = true;
                } else {
                    self.in_string = false;
                }
                i += 1;
                continue;
            }
            match b {
                b'"' => self.in_string = true,
                b'{' | b'[' => level += 1,
                b'}' | b']' => {
                    level = level.saturating_sub(1);
                    if level == 0 {
                        return (Some(i + 1), 0);
                    }
                }
                _ => {}
            }
            i += 1;
        }
        (None, level)
    }
}

impl<R: BufRead> Read for Elide<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        loop {
            if !self.pending.is_empty() {
                let n = self.pending.len().min(out.len());
                let (now, later) = self.pending.split_at(n);
                out.get_mut(..n).unwrap_or_default().copy_from_slice(now);
                self.pending = later;
                return Ok(n);
            }
            let buf = self.inner.fill_buf()?;
            if buf.is_empty() {
                // End of input: the checker sees the end of whatever it was given.
                self.to_checker = None;
                return Ok(0);
            }
            // Only what is handed out now is copied and scanned (no byte twice).
            let limit = match self.mode {
                Mode::Pass | Mode::Done => buf.len().min(out.len()),
                Mode::Skip(_) => buf.len(),
            };
            let buf = buf.get(..limit).unwrap_or_default().to_vec();
            match self.mode {
                Mode::Pass => {
                    let head = buf.as_slice();
                    let n = match self.scan_pass(head) {
                        Some(start) => {
                            self.mode = Mode::Skip(0);
                            start
                        }
                        None => limit,
                    };
                    if n == 0 && matches!(self.mode, Mode::Skip(_)) {
                        continue;
                    }
                    out.get_mut(..n)
                        .unwrap_or_default()
                        .copy_from_slice(buf.get(..n).unwrap_or_default());
                    self.inner.consume(n);
                    return Ok(n);
                }
                Mode::Skip(level) => {
                    let (end, level) = self.scan_skip(&buf, level);
                    let n = end.unwrap_or(buf.len());
                    self.send(buf.get(..n).unwrap_or_default());
                    self.inner.consume(n);
                    if end.is_some() {
                        self.mode = Mode::Done;
                        self.to_checker = None;
                        self.pending = b"{}";
                    } else {
                        self.mode = Mode::Skip(level);
                    }
                }
                Mode::Done => {
                    let n = buf.len().min(out.len());
                    out.get_mut(..n)
                        .unwrap_or_default()
                        .copy_from_slice(buf.get(..n).unwrap_or_default());
                    self.inner.consume(n);
                    return Ok(n);
                }
            }
        }
    }
}

/// The checker's end: the elided bytes as a reader.
pub(crate) struct Received {
    rx: Receiver<Vec<u8>>,
    chunk: Vec<u8>,
    at: usize,
}

impl Received {
    pub(crate) fn new(rx: Receiver<Vec<u8>>) -> Self {
        Received {
            rx,
            chunk: Vec::new(),
            at: 0,
        }
    }
}

impl Read for Received {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.at >= self.chunk.len() {
            match self.rx.recv() {
                Ok(chunk) => {
                    self.chunk = chunk;
                    self.at = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let rest = self.chunk.get(self.at..).unwrap_or_default();
        let n = rest.len().min(out.len());
        out.get_mut(..n)
            .unwrap_or_default()
            .copy_from_slice(rest.get(..n).unwrap_or_default());
        self.at += n;
        Ok(n)
    }
}

/// The number of chunks the elider may queue.
pub(crate) fn channel() -> (SyncSender<Vec<u8>>, Receiver<Vec<u8>>) {
    std::sync::mpsc::sync_channel(IN_FLIGHT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn elide(text: &str, chunk: usize) -> (String, String) {
        let (tx, rx) = channel();
        let reader = std::io::BufReader::with_capacity(chunk, text.as_bytes());
        let checker = std::thread::spawn(move || {
            let mut s = String::new();
            Received::new(rx).read_to_string(&mut s).map(|_| s)
        });
        let mut out = String::new();
        let read = Elide::new(reader, tx).read_to_string(&mut out);
        let elided = checker.join().ok().and_then(Result::ok).unwrap_or_default();
        assert!(read.is_ok());
        (out, elided)
    }

    #[test]
    fn only_the_snapshot_oracles_value_is_elided() {
        let text = r#"{"oracles": {"a": 1}, "snapshot": {"x": "oracles", "oracles": {"k": ["}", {"q": "\"{"}]}, "scope": {"oracles": {}}}, "z": 1}"#;
        for chunk in [1, 2, 3, 7, 64, 4096] {
            let (out, elided) = elide(text, chunk);
            assert_eq!(
                out,
                r#"{"oracles": {"a": 1}, "snapshot": {"x": "oracles", "oracles": {}, "scope": {"oracles": {}}}, "z": 1}"#,
                "chunk {chunk}"
            );
            assert_eq!(elided, r#"{"k": ["}", {"q": "\"{"}]}"#, "chunk {chunk}");
        }
    }

    #[test]
    fn other_spellings_pass_through() {
        for text in [
            r#"{"snapshot": {"oracle\u0073": {"a": 1}}}"#,
            r#"{"snapshot": {"oracles": [1]}}"#,
            r#"{"snap": {"oracles": {"a": 1}}}"#,
        ] {
            assert_eq!(elide(text, 5), (text.to_owned(), String::new()));
        }
    }
}
