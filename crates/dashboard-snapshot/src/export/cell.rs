//! CSV cells and the row sink ("CSV encoding"): the formula guard applies to
//! text cells only; numbers, negative ones included, are written untouched.

use std::borrow::Cow;
use std::io::Write;

use sha2::{Digest, Sha256};

/// One CSV cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell<'a> {
    /// User-visible text: formula guard, control-character replacement, quoting.
    Text(Cow<'a, str>),
    /// An integer, as decimal.
    Int(i64),
    /// A number already rounded to one decimal, printed with exactly one decimal.
    Dec1(f64),
    /// `true` / `false`.
    Bool(bool),
    /// An RFC 3339 UTC timestamp text (`YYYY-MM-DDTHH:MM:SSZ`), written as is.
    Time(Cow<'a, str>),
    /// An empty field (null).
    Empty,
}

/// Why a row could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SinkError {
    /// The CSV writer failed.
    #[error("CSV writer")]
    Csv(#[from] csv::Error),
}

/// Where serializers put their rows, in final order.
pub trait RowSink {
    /// Write one record.
    fn row(&mut self, cells: &[Cell<'_>]) -> Result<(), SinkError>;
}

/// Whether a text cell starts like a spreadsheet formula.
pub fn needs_formula_guard(text: &str) -> bool {
    matches!(
        text.chars().next(),
        Some('=' | '+' | '-' | '@' | '\t' | '\r')
    )
}

/// Append the CSV field text of `cell` to `out` (guarded and quoted as needed).
pub fn render_cell(cell: &Cell<'_>, out: &mut String) {
    let mut bytes = Vec::new();
    write_cell(cell, &mut bytes);
    // Fields are UTF-8 text with ASCII quotes, digits and signs added.
    out.push_str(&String::from_utf8_lossy(&bytes));
}

/// Append the CSV field bytes of `cell` to `out`.
fn write_cell(cell: &Cell<'_>, out: &mut Vec<u8>) {
    use std::io::Write as _;
    match cell {
        Cell::Text(text) => write_text(text, out),
        Cell::Int(n) => {
            let _ = write!(out, "{n}");
        }
        Cell::Dec1(x) => write_dec1(*x, out),
        Cell::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Cell::Time(t) => push_field(t, out),
        Cell::Empty => {}
    }
}

/// One decimal, like `{:.1}` of an already-rounded value, via integer tenths (fast
/// path); large or non-finite values use the formatter.
fn write_dec1(x: f64, out: &mut Vec<u8>) {
    use std::io::Write as _;
    let tenths = (x * 10.0).round();
    if x.is_finite() && tenths.abs() < 1e15 {
        let t = tenths as i64;
        if t < 0 {
            out.push(b'-');
        }
        let t = t.unsigned_abs();
        let _ = write!(out, "{}.{}", t / 10, t % 10);
    } else {
        let _ = write!(out, "{x:.1}");
    }
}

fn is_replaced(c: char) -> bool {
    c.is_control() && !matches!(c, '\t' | '\r' | '\n')
}

/// Text: the formula guard, control characters replaced by U+FFFD, then quoted.
fn write_text(text: &str, out: &mut Vec<u8>) {
    let guard = needs_formula_guard(text);
    if !guard && !text.chars().any(is_replaced) {
        push_field(text, out);
        return;
    }
    let mut clean = String::with_capacity(text.len() + 1);
    if guard {
        clean.push('\'');
    }
    clean.extend(
        text.chars()
            .map(|c| if is_replaced(c) { '\u{FFFD}' } else { c }),
    );
    push_field(&clean, out);
}

/// Whether `text` is quoted: when the `csv` crate's minimal quoting asks for it
/// (a comma, a quote, CR or LF), and also for a leading or trailing space, which
/// a spreadsheet would otherwise trim.
fn quoted(text: &str) -> bool {
    static MINIMAL: std::sync::LazyLock<csv_core::Writer> =
        std::sync::LazyLock::new(|| csv_core::WriterBuilder::new().build());
    MINIMAL.should_quote(text.as_bytes()) || text.starts_with(' ') || text.ends_with(' ')
}

/// Append `text` to `out` as one field: in quotes with quotes doubled (by the
/// `csv` crate's own escaper) when [`quoted`], else verbatim.
fn push_field(text: &str, out: &mut Vec<u8>) {
    if !quoted(text) {
        out.extend_from_slice(text.as_bytes());
        return;
    }
    out.push(b'"');
    let mut input = text.as_bytes();
    let mut chunk = [0u8; 512];
    loop {
        let (result, read, wrote) = csv_core::quote(input, &mut chunk, b'"', b'\\', true);
        out.extend_from_slice(chunk.get(..wrote).unwrap_or_default());
        input = input.get(read..).unwrap_or_default();
        if matches!(result, csv_core::WriteResult::InputEmpty) {
            break;
        }
    }
    out.push(b'"');
}

/// A writer that counts and hashes what passes through it.
#[derive(Debug)]
pub struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> HashingWriter<W> {
    /// Wrap `inner`.
    pub fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }

    /// Bytes written and their SHA-256 (lower-case hex).
    pub fn finish(self) -> (W, u64, String) {
        (self.inner, self.bytes, hex::encode(self.hasher.finalize()))
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        if let Some(done) = buf.get(..n) {
            self.hasher.update(done);
        }
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// The CSV encoder: UTF-8 without BOM, comma, CRLF after every record, minimal
/// quoting by the `csv` crate's rules (plus a leading or trailing space). A record
/// with no bytes at all (one empty field) is written `""`, as the `csv` crate does.
#[derive(Debug)]
pub struct CsvSink<W: Write> {
    out: W,
    buf: Vec<u8>,
    rows: u64,
}

impl<W: Write> CsvSink<W> {
    const FLUSH_AT: usize = 1 << 16;

    /// A sink over `out`; writes the header row.
    pub fn new(out: W, columns: &[&str]) -> Result<Self, SinkError> {
        let mut sink = CsvSink {
            out,
            buf: Vec::with_capacity(Self::FLUSH_AT + 4096),
            rows: 0,
        };
        let header: Vec<Cell<'_>> = columns
            .iter()
            .map(|c| Cell::Text(Cow::Borrowed(*c)))
            .collect();
        sink.write(&header)?;
        Ok(sink)
    }

    fn write(&mut self, cells: &[Cell<'_>]) -> Result<(), SinkError> {
        let start = self.buf.len();
        for (i, cell) in cells.iter().enumerate() {
            if i > 0 {
                self.buf.push(b',');
            }
            write_cell(cell, &mut self.buf);
        }
        if self.buf.len() == start {
            self.buf.extend_from_slice(b"\"\"");
        }
        self.buf.extend_from_slice(b"\r\n");
        if self.buf.len() >= Self::FLUSH_AT {
            self.out.write_all(&self.buf).map_err(csv::Error::from)?;
            self.buf.clear();
        }
        Ok(())
    }

    /// Data rows written (header excluded).
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Flush and hand back the writer.
    pub fn finish(mut self) -> Result<W, SinkError> {
        self.out.write_all(&self.buf).map_err(csv::Error::from)?;
        self.out.flush().map_err(csv::Error::from)?;
        Ok(self.out)
    }
}

impl<W: Write> RowSink for CsvSink<W> {
    fn row(&mut self, cells: &[Cell<'_>]) -> Result<(), SinkError> {
        self.write(cells)?;
        self.rows += 1;
        Ok(())
    }
}

/// A sink that only counts rows (the plan's dry run).
#[derive(Debug, Default)]
pub struct CountingSink {
    /// Rows seen.
    pub rows: u64,
}

impl RowSink for CountingSink {
    fn row(&mut self, _cells: &[Cell<'_>]) -> Result<(), SinkError> {
        self.rows += 1;
        Ok(())
    }
}
