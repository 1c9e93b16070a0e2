//! CSV encoding: formula guard on text only, quoting, control characters, CRLF.

use std::borrow::Cow;

use dashboard_snapshot::export::{Cell, CsvSink, RowSink, needs_formula_guard, render_cell};
use proptest::prelude::*;

use crate::TestResult;

fn csv(columns: &[&str], rows: &[Vec<Cell<'_>>]) -> Result<String, Box<dyn std::error::Error>> {
    let mut sink = CsvSink::new(Vec::new(), columns)?;
    for row in rows {
        sink.row(row)?;
    }
    Ok(String::from_utf8(sink.finish()?)?)
}

fn text(s: &str) -> Cell<'_> {
    Cell::Text(Cow::Borrowed(s))
}

#[test]
fn hyperlink_text_is_neutralised_and_negative_number_is_not() -> TestResult {
    let out = csv(
        &["name", "score"],
        &[vec![
            text("=HYPERLINK(\"http://example.invalid\",\"x\")"),
            Cell::Dec1(-3.5),
        ]],
    )?;
    assert_eq!(
        out,
        "name,score\r\n\"'=HYPERLINK(\"\"http://example.invalid\"\",\"\"x\"\")\",-3.5\r\n"
    );
    Ok(())
}

#[test]
fn every_formula_lead_is_guarded_in_text() -> TestResult {
    let out = csv(
        &["v"],
        &[
            vec![text("+1")],
            vec![text("-3.5")],
            vec![text("@SUM(A1)")],
            vec![text("\tx")],
            vec![text("\rx")],
            vec![Cell::Int(-7)],
        ],
    )?;
    assert_eq!(
        out,
        "v\r\n'+1\r\n'-3.5\r\n'@SUM(A1)\r\n'\tx\r\n\"'\rx\"\r\n-7\r\n"
    );
    Ok(())
}

#[test]
fn quoting_and_formats() -> TestResult {
    let out = csv(
        &["a", "b", "c", "d", "e", "f", "g"],
        &[vec![
            text("O'Brien, Jr."),
            text("Sam \"Sammy\" Eze"),
            text("Zoë Müller"),
            text(" padded"),
            Cell::Bool(true),
            Cell::Dec1(40.0),
            Cell::Empty,
        ]],
    )?;
    assert_eq!(
        out,
        "a,b,c,d,e,f,g\r\n\"O'Brien, Jr.\",\"Sam \"\"Sammy\"\" Eze\",Zoë Müller,\" padded\",true,40.0,\r\n"
    );
    Ok(())
}

#[test]
fn control_characters_are_replaced() -> TestResult {
    let mut out = String::new();
    render_cell(&text("a\u{7}b"), &mut out);
    assert_eq!(out, "a\u{FFFD}b");
    Ok(())
}

#[test]
fn header_only_when_no_rows() -> TestResult {
    assert_eq!(csv(&["x", "y"], &[])?, "x,y\r\n");
    Ok(())
}

proptest! {
    #[test]
    fn numbers_are_never_prefixed(x in -1.0e6f64..1.0e6, n in any::<i64>()) {
        let mut out = String::new();
        render_cell(&Cell::Dec1(x), &mut out);
        prop_assert!(!out.starts_with('\''));
        prop_assert_eq!(out.parse::<f64>().ok().map(|v| (v - x).abs() <= 0.05 + 1e-9), Some(true));
        let mut out = String::new();
        render_cell(&Cell::Int(n), &mut out);
        prop_assert_eq!(out, n.to_string());
    }

    #[test]
    fn guarded_text_never_starts_with_a_formula_lead(s in "\\PC{0,12}") {
        let mut out = String::new();
        render_cell(&Cell::Text(Cow::Borrowed(&s)), &mut out);
        let unquoted = out.strip_prefix('"').unwrap_or(&out);
        prop_assert!(!needs_formula_guard(unquoted));
    }
}
