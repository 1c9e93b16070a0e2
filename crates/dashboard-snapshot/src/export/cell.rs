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
    use std::fmt::Write as _;
    match cell {
        Cell::Text(text) => render_text(text, out),
        Cell::Int(n) => {
            let _ = write!(out, "{n}");
        }
        Cell::Dec1(x) => write_dec1(*x, out),
        Cell::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Cell::Time(t) => render_text_unguarded(t, out),
        Cell::Empty => {}
    }
}

/// One decimal, like `{:.1}` of an already-rounded value, via integer tenths (fast
/// path); large or non-finite values use the formatter.
fn write_dec1(x: f64, out: &mut String) {
    use std::fmt::Write as _;
    let tenths = (x * 10.0).round();
    if x.is_finite() && tenths.abs() < 1e15 {
        let t = tenths as i64;
        if t < 0 {
            out.push('-');
        }
        let t = t.unsigned_abs();
        let _ = write!(out, "{}.{}", t / 10, t % 10);
    } else {
        let _ = write!(out, "{x:.1}");
    }
}

fn render_text(text: &str, out: &mut String) {
    let mut clean = String::with_capacity(text.len() + 1);
    if needs_formula_guard(text) {
        clean.push('\'');
    }
    for c in text.chars() {
        if c.is_control() && !matches!(c, '\t' | '\r' | '\n') {
            clean.push('\u{FFFD}');
        } else {
            clean.push(c);
        }
    }
    render_text_unguarded(&clean, out);
}

/// RFC 4180 minimal quoting, plus quotes for a leading or trailing space.
fn render_text_unguarded(text: &str, out: &mut String) {
    let quote =
        text.contains([',', '"', '\r', '\n']) || text.starts_with(' ') || text.ends_with(' ');
    if !quote {
        out.push_str(text);
        return;
    }
    out.push('"');
    for c in text.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    out.push('"');
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

/// The CSV encoder: UTF-8 without BOM, comma, CRLF after every record. Fields are
/// rendered by [`render_cell`] and passed to the `csv` writer verbatim.
#[derive(Debug)]
pub struct CsvSink<W: Write> {
    writer: csv::Writer<W>,
    field: String,
    rows: u64,
}

impl<W: Write> CsvSink<W> {
    /// A sink over `out`; writes the header row.
    pub fn new(out: W, columns: &[&str]) -> Result<Self, SinkError> {
        let writer = csv::WriterBuilder::new()
            .delimiter(b',')
            .terminator(csv::Terminator::CRLF)
            .quote_style(csv::QuoteStyle::Never)
            .has_headers(false)
            .from_writer(out);
        let mut sink = CsvSink {
            writer,
            field: String::new(),
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
        for cell in cells {
            self.field.clear();
            render_cell(cell, &mut self.field);
            self.writer.write_field(self.field.as_bytes())?;
        }
        self.writer.write_record(None::<&[u8]>)?;
        Ok(())
    }

    /// Data rows written (header excluded).
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Flush and hand back the writer.
    pub fn finish(self) -> Result<W, SinkError> {
        self.writer
            .into_inner()
            .map_err(|e| SinkError::Csv(csv::Error::from(e.into_error())))
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
