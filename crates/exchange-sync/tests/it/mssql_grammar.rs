//! Every T-SQL text the SQL Server mirror sends, parsed by a real T-SQL grammar
//! (sqlparser-rs, `MsSqlDialect`). This catches syntax errors; it does not replace
//! a server (the live kit, `scripts/mssql-live.sh`, is for that).
//!
//! A statement the grammar cannot parse fails the test unless it is on
//! [`ALLOWED`], which says why.

use exchange_sync::mssql::tsql::{self, TableName};
use sqlparser::dialect::MsSqlDialect;
use sqlparser::parser::Parser;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Statements the grammar does not accept, each with the reason it is still right.
/// Matched by the name given in [`statements`].
const ALLOWED: &[(&str, &str)] = &[
    // `INSERT BULK` is a TDS bulk-load request header, not T-SQL: SQL Server
    // accepts it only as the first packet of a bulk load (tiberius builds it from
    // the column list; the text below is its form). No T-SQL grammar has it.
    ("bulk load header", "TDS-only statement"),
];

/// `(name, text)` of every statement, one batch each.
fn statements() -> Result<Vec<(String, String)>, Box<dyn std::error::Error>> {
    let t = TableName::new("lake", "RawExchangeRecord")?;
    let mut out: Vec<(String, String)> = Vec::new();
    let script = tsql::schema_script(&t);
    for (i, batch) in tsql::script_batches(&script).into_iter().enumerate() {
        out.push((format!("schema script batch {i}"), batch));
    }
    for o in tsql::schema_objects(&t) {
        out.push((format!("create {}", o.name), tsql::create_if_missing(&o)));
    }
    for (name, sql) in [
        ("missing objects", tsql::missing_query(&t)),
        ("hashes in scope", tsql::hashes_in_scope(&t)),
        ("natural keys (1)", tsql::find_by_natural_keys(&t, 1)),
        (
            "natural keys (max)",
            tsql::find_by_natural_keys(&t, tsql::KEYS_PER_LOOKUP),
        ),
        ("export first page", tsql::export_page(&t, false)),
        ("export next page", tsql::export_page(&t, true)),
        ("count scope", tsql::count(&t, true)),
        ("count table", tsql::count(&t, false)),
        ("update (1)", tsql::update_batch(&t, 1)),
        (
            "update (max)",
            tsql::update_batch(&t, tsql::UPDATES_PER_REQUEST),
        ),
        ("insert (1)", tsql::insert_rows(&t, 1)),
        (
            "insert (max)",
            tsql::insert_rows(&t, tsql::INSERTS_PER_REQUEST),
        ),
        ("server time", tsql::SERVER_TIME.to_owned()),
        ("session settings", tsql::SESSION_SETTINGS.to_owned()),
        ("rollback", tsql::ROLLBACK.to_owned()),
        ("scope lock", tsql::LOCK_SCOPE.to_owned()),
        (
            "bulk load metadata",
            format!(
                "SELECT TOP 0 {} FROM {}",
                tsql::INSERT_COLUMNS.join(", "),
                t.quoted()
            ),
        ),
        (
            "bulk load header",
            format!(
                "INSERT BULK {} ({}) WITH (CHECK_CONSTRAINTS)",
                t.quoted(),
                tsql::INSERT_COLUMNS.join(", ")
            ),
        ),
    ] {
        out.push((name.to_owned(), sql));
    }
    Ok(out)
}

#[test]
fn every_generated_statement_parses_as_t_sql() -> TestResult {
    let mut failures = Vec::new();
    let mut parsed = 0usize;
    for (name, sql) in statements()? {
        let allowed = ALLOWED.iter().any(|(n, _)| *n == name);
        match Parser::parse_sql(&MsSqlDialect {}, &sql) {
            Ok(ast) if !ast.is_empty() => {
                parsed += 1;
                if allowed {
                    failures.push(format!("{name}: parses now; take it off the allow-list"));
                }
            }
            Ok(_) => failures.push(format!("{name}: parsed to no statement\n{sql}")),
            Err(e) if allowed => {
                let _ = e;
            }
            Err(e) => failures.push(format!("{name}: {e}\n{sql}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} statement(s) failed the T-SQL grammar:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    assert!(parsed >= 20, "only {parsed} statements parsed");
    Ok(())
}

#[test]
fn the_grammar_refuses_broken_t_sql() {
    // The test above can fail: a statement with a syntax error is refused.
    for broken in [
        "SELECT TOP (@P3 exchange_id FROM [lake].[t]",
        "IF NOT EXISTS (SELECT 1 FROM sys.tables WHERE) CREATE TABLE [a].[b] (x INT)",
        "UPDATE [lake].[t] SET WHERE exchange_id = @P1",
    ] {
        assert!(
            Parser::parse_sql(&MsSqlDialect {}, broken).is_err(),
            "{broken}"
        );
    }
}
