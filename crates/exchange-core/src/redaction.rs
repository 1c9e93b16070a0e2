//! Scrubbing secrets from records before they are hashed and written.
//!
//! [`Redactor::redact_record`] visits **every string of a record** except the
//! four identity fields (`exchange_id`, `exchange_type`, `source_system`,
//! `entity_type`): the request and the response (headers included, both ways),
//! `natural_key`, `tags`, `provenance`, `response_ref` and unknown top-level keys.
//! A value is replaced by `[REDACTED]` (the keys stay) when any of these rules
//! fires:
//!
//! * **secret key**: an object key that names a sensitive header (the built-in
//!   list plus the manifest's `headers_to_redact`, which adds to it) or a secret
//!   (`password`, `secret`, `token`, `api_key`, `client_secret`, `auth`,
//!   `authorization`, `cookie`, `credentials`, `private_key`, ...; compared by
//!   words, so `author` and `total_tokens` are not secrets): every string under it;
//! * **URL userinfo** (`scheme://user:password@host`) and **URL parameters**
//!   naming a secret (`?token=...`);
//! * **patterns**: the five built-in patterns of the reference, then provider
//!   formats (authorization and cookie header lines inside text, GitHub, GitLab,
//!   Slack, Stripe, Google, OpenAI-style `sk-` keys, npm tokens, private key PEM
//!   blocks), then the manifest's `patterns`. A whole match is replaced.
//!
//! Every rule that fired is recorded in `redactions_applied`: where
//! (`request_headers`, `request_secrets`, `response_headers`, `response_secrets`,
//! `record_secrets` for the other fields) and which rule (`rule:NAME`), sorted.
//! The policy's `enabled: false` turns all of this off (`add` then warns).

use std::borrow::Cow;

use regex::{Regex, RegexSet};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::manifest::RedactionPolicy;
use crate::record::{ExchangeRecord, Provenance};
use crate::tree::{Kind, TreeMut};
use screen::Screen;

mod screen;

/// What replaces a secret.
pub const REDACTED: &str = "[REDACTED]";

/// The built-in sensitive header names (the manifest's list adds to them).
pub const BUILTIN_HEADERS: [&str; 16] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "api-key",
    "x-auth-token",
    "bearer",
    "x-access-token",
    "x-secret",
    "x-csrf-token",
    "x-amz-security-token",
    "x-goog-api-key",
    "private-token",
    "x-vault-token",
    "www-authenticate",
];

/// The five built-in payload patterns of the reference, applied first, in this
/// order (case-insensitive).
pub const BUILTIN_PATTERNS: [&str; 5] = [
    r#"["']?(?:api[_-]?key|apikey)["']?\s*[:=]\s*["']?([a-zA-Z0-9_-]{16,})["']?"#,
    r#"["']?bearer\s+([a-zA-Z0-9_.-]+)["']?"#,
    r"eyJ[a-zA-Z0-9_-]+\.eyJ[a-zA-Z0-9_-]+\.[a-zA-Z0-9_-]+",
    r"(?:AKIA|ABIA|ACCA|ASIA)[A-Z0-9]{16}",
    r#"["']?(?:secret|password|passwd|pwd)["']?\s*[:=]\s*["']?([^\s"']{8,})["']?"#,
];

/// The rule names of [`BUILTIN_PATTERNS`], in order.
const BUILTIN_NAMES: [&str; 5] = ["api_key", "bearer", "jwt", "aws_access_key", "password"];

/// Provider formats and header lines inside text, applied after the built-in
/// patterns: `(rule name, pattern)`. A bare `Basic xxx` is not one (prose holds
/// "basic" followed by long words); under a key naming a header or after
/// `Authorization:` it is caught by those rules.
pub const PROVIDER_PATTERNS: [(&str, &str); 13] = [
    (
        "authorization",
        r#"(?:proxy-)?authori[sz]ation["']?\s*[:=]\s*["']?(?:(?:basic|bearer|digest|token|negotiate)\s+)?[^\s"',;]+"#,
    ),
    ("cookie", r#"(?:set-)?cookie["']?\s*:\s*[^\r\n"]+"#),
    (
        "token",
        r#"["']?(?:access[_-]?token|refresh[_-]?token|id[_-]?token|auth[_-]?token|api[_-]?token|client[_-]?secret|token)["']?\s*[:=]\s*["']?[^\s"',&]{8,}["']?"#,
    ),
    (
        "github",
        r"\b(?:gh[pousr]_[a-z0-9]{30,}|github_pat_[a-z0-9_]{20,})",
    ),
    ("gitlab", r"\bglpat-[a-z0-9_-]{20,}"),
    ("slack", r"\bxox[abposr]-[a-z0-9-]{10,}"),
    (
        "slack_webhook",
        r"https://hooks\.slack\.com/services/[a-z0-9_/]+",
    ),
    (
        "stripe",
        r"\b(?:sk|rk|pk)_(?:live|test)_[a-z0-9]{16,}|\bwhsec_[a-z0-9]{16,}",
    ),
    ("google", r"\bAIza[0-9a-z_-]{30,}|\bya29\.[0-9a-z_-]{20,}"),
    ("sk_key", r"\bsk-[a-z0-9_-]{20,}"),
    ("npm", r"\bnpm_[a-z0-9]{36}"),
    (
        "aws_secret",
        r#"aws_?secret_?(?:access_?)?key["']?\s*[:=]\s*["']?[a-z0-9/+=]{40}"#,
    ),
    (
        "private_key",
        r"(?s)-----BEGIN[ A-Z0-9]*PRIVATE KEY( BLOCK)?-----.*?(?:-----END[ A-Z0-9]*PRIVATE KEY( BLOCK)?-----|\z)",
    ),
];

/// URL query parameters whose value is a secret.
const URL_PARAMS: &str = "api_key|apikey|key|token|secret|password|passwd|pwd|auth|bearer|access_token|refresh_token|client_secret|sig|signature|code";

/// Words that make an object key a secret's name.
const SECRET_WORDS: [&str; 14] = [
    "password",
    "passwd",
    "pwd",
    "passphrase",
    "secret",
    "token",
    "apikey",
    "auth",
    "authorization",
    "cookie",
    "credential",
    "credentials",
    "privatekey",
    "bearer",
];

/// Adjacent word pairs that make a key a secret's name (`api_key`, `private-key`).
const SECRET_PAIRS: [(&str, &str); 5] = [
    ("api", "key"),
    ("private", "key"),
    ("access", "key"),
    ("secret", "key"),
    ("session", "id"),
];

/// A compiled redactor.
#[derive(Debug, Clone)]
pub struct Redactor {
    enabled: bool,
    headers: Vec<String>,
    /// `(rule label, regex)`, in the order applied.
    patterns: Vec<(String, Regex)>,
    /// All patterns at once: one pass tells whether a string needs any of them.
    any: RegexSet,
    url: Regex,
    userinfo: Regex,
    /// Whether a string could need any rule at all (one scan; see [`screen`]).
    screen: Option<Screen>,
    /// This redactor and its clones (same rules), for [`KeyMemo`].
    id: u64,
}

/// The redacted request/response and the labels of what was really replaced.
#[derive(Debug, Clone, PartialEq)]
pub struct Redacted {
    /// The request after redaction.
    pub request: Value,
    /// The response after redaction.
    pub response: Value,
    /// Sorted labels (see the module doc).
    pub labels: Vec<String>,
}

impl Redactor {
    /// Build from extra header names (added to [`BUILTIN_HEADERS`]; compared
    /// lowercased) and custom patterns. `manifest` names the file for errors.
    pub fn new(
        headers: Option<&[String]>,
        custom: &[String],
        manifest: &std::path::Path,
    ) -> Result<Self> {
        let mut all: Vec<String> = BUILTIN_HEADERS.iter().map(|s| (*s).to_owned()).collect();
        for h in headers.unwrap_or_default() {
            let h = h.to_lowercase();
            if !all.contains(&h) {
                all.push(h);
            }
        }
        let compile = |label: &str, p: &str| {
            Regex::new(&format!("(?i){p}"))
                .map_err(|source| Error::Pattern {
                    path: manifest.to_path_buf(),
                    pattern: p.to_owned(),
                    source,
                })
                .map(|re| (format!("rule:{label}"), re))
        };
        let mut patterns = Vec::new();
        for (name, p) in BUILTIN_NAMES.iter().zip(BUILTIN_PATTERNS) {
            patterns.push(compile(name, p)?);
        }
        for (name, p) in PROVIDER_PATTERNS {
            patterns.push(compile(name, p)?);
        }
        for (i, p) in custom.iter().enumerate() {
            patterns.push(compile(&format!("custom_{}", i + 1), p)?);
        }
        let url = compile("url_param", &format!(r"([?&;])({URL_PARAMS})=([^&\s#]+)"))?.1;
        let userinfo = compile("url_userinfo", r"\b([a-z][a-z0-9+.-]*://)[^/\s@?#]+@")?.1;
        let any = RegexSet::new(patterns.iter().map(|(_, re)| re.as_str())).map_err(|source| {
            Error::Pattern {
                path: manifest.to_path_buf(),
                pattern: "(all patterns)".into(),
                source,
            }
        })?;
        let rules = [&userinfo, &url]
            .into_iter()
            .chain(patterns.iter().map(|(_, re)| re));
        let screen = Screen::new(rules.map(Regex::as_str));
        Ok(Redactor {
            enabled: true,
            headers: all,
            patterns,
            any,
            url,
            userinfo,
            screen,
            id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        })
    }

    /// The redactor a manifest's policy asks for: off when `enabled` is false;
    /// else the built-in rules plus the policy's header names and patterns.
    pub fn for_policy(policy: &RedactionPolicy, manifest: &std::path::Path) -> Result<Self> {
        let mut r = Self::new(
            Some(policy.headers_to_redact.as_slice()),
            &policy.patterns,
            manifest,
        )?;
        r.enabled = policy.enabled;
        Ok(r)
    }

    /// Whether this redactor changes anything (the policy's `enabled`).
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Whether redaction leaves every string within `text` as it is: off, or
    /// no rule could fire anywhere in `text` (the screen: it has no
    /// assertions, so where it finds nothing in a text it finds nothing in a
    /// part of it). Strings joined into one text are screened at once.
    pub fn passes_over(&self, text: &str) -> bool {
        !self.enabled
            || self
                .screen
                .as_ref()
                .is_some_and(|screen| !screen.may_match(text))
    }

    /// Redact a request and a response (the two payloads only; see
    /// [`Redactor::redact_record`] for a whole record).
    pub fn redact(&self, request: &Value, response: &Value) -> Redacted {
        let mut labels = Vec::new();
        let mut request = request.clone();
        let mut response = response.clone();
        if self.enabled {
            self.part(&mut request, "request", &mut labels);
            self.part(&mut response, "response", &mut labels);
        }
        labels.sort();
        labels.dedup();
        Redacted {
            request,
            response,
            labels,
        }
    }

    /// Redact every string of `record` but its identity fields, and add the labels
    /// of the rules that fired to its `redactions_applied` (sorted, no
    /// duplicates). Returns whether anything was replaced.
    pub fn redact_record(&self, record: &mut ExchangeRecord) -> bool {
        let provenance = record
            .provenance
            .iter_mut()
            .flat_map(Provenance::values_mut);
        let strings = record
            .natural_key
            .iter_mut()
            .chain(record.response_ref.iter_mut())
            .chain(record.tags.iter_mut())
            .chain(provenance);
        self.redact_fields(
            [&mut record.request, &mut record.response],
            strings,
            record.extra.iter_mut().map(|(k, v)| (k.as_str(), v)),
            &mut record.redactions_applied,
        )
    }

    /// [`Redactor::redact_record`] on a record's fields, whatever tree holds
    /// its values (see [`crate::tree`]): the `request` and the `response`, the
    /// other strings (`natural_key`, `response_ref`, the tags, the provenance
    /// values), and the unknown keys with their values. The labels go to
    /// `applied`. Returns whether anything was replaced.
    pub fn redact_fields<'r, T: TreeMut + 'r>(
        &self,
        [request, response]: [&mut T; 2],
        strings: impl Iterator<Item = &'r mut String>,
        extra: impl Iterator<Item = (&'r str, &'r mut T)>,
        applied: &mut Vec<String>,
    ) -> bool {
        if !self.enabled {
            return false;
        }
        let mut labels = Vec::new();
        self.part(request, "request", &mut labels);
        self.part(response, "response", &mut labels);
        let mut rules = Vec::new();
        for s in strings {
            s.map_text(|t| self.string(t, &mut rules));
        }
        for (key, value) in extra {
            if self.is_secret_key(key) {
                blank(value, &mut rules);
            } else {
                self.value(value, &mut rules);
            }
        }
        if !rules.is_empty() {
            labels.push("record_secrets".to_owned());
            labels.append(&mut rules);
        }
        let changed = !labels.is_empty();
        for l in labels {
            if !applied.contains(&l) {
                applied.push(l);
            }
        }
        applied.sort();
        changed
    }

    /// Redact one payload (`request` or `response`), adding `WHERE_headers` /
    /// `WHERE_secrets` and the rules to `labels`.
    fn part<T: TreeMut>(&self, value: &mut T, where_: &str, labels: &mut Vec<String>) {
        let (mut header_rules, mut rules) = (Vec::new(), Vec::new());
        if value.kind() == Kind::Obj {
            for (key, v) in value.entries_mut() {
                if is_headers(key) && v.kind() == Kind::Obj {
                    for (name, hv) in v.entries_mut() {
                        if self.is_secret_key(name) {
                            blank(hv, &mut header_rules);
                        } else {
                            self.value(hv, &mut rules);
                        }
                    }
                } else if self.is_secret_key(key) {
                    blank(v, &mut rules);
                } else {
                    self.value(v, &mut rules);
                }
            }
        } else {
            self.value(value, &mut rules);
        }
        if !header_rules.is_empty() {
            labels.push(format!("{where_}_headers"));
            labels.append(&mut header_rules);
        }
        if !rules.is_empty() {
            labels.push(format!("{where_}_secrets"));
            labels.append(&mut rules);
        }
    }

    /// Redact every string under `value`; values under secret keys go whole.
    fn value<T: TreeMut>(&self, value: &mut T, rules: &mut Vec<String>) {
        match value.kind() {
            Kind::Str(_) | Kind::Plain(_) => value.map_text(|s| self.string(s, rules)),
            Kind::Arr => value.items_mut().for_each(|v| self.value(v, rules)),
            Kind::Obj => {
                for (key, v) in value.entries_mut() {
                    if self.is_secret_key(key) {
                        blank(v, rules);
                    } else {
                        self.value(v, rules);
                    }
                }
            }
            Kind::Null | Kind::Bool(_) | Kind::Num(_) => {}
        }
    }

    /// Apply the URL rules and the patterns to one string: its new text, when
    /// a rule changed it.
    fn string(&self, s: &str, rules: &mut Vec<String>) -> Option<String> {
        if self
            .screen
            .as_ref()
            .is_some_and(|screen| !screen.may_match(s))
        {
            return None;
        }
        let mut text = Cow::Borrowed(s);
        if text.contains("://") {
            replace(
                &mut text,
                &self.userinfo,
                USERINFO_TO,
                "rule:url_userinfo",
                rules,
            );
        }
        if text.contains('=') {
            replace(&mut text, &self.url, URL_PARAM_TO, "rule:url_param", rules);
        }
        if self.any.is_match(&text) {
            for (label, re) in &self.patterns {
                if re.is_match(&text) {
                    replace(&mut text, re, REDACTED, label, rules);
                }
            }
        }
        match text {
            Cow::Owned(new) => Some(new),
            Cow::Borrowed(_) => None,
        }
    }

    /// Whether an object key names a sensitive header or a secret.
    pub fn is_secret_key(&self, key: &str) -> bool {
        if key.is_ascii() && key.len() <= ASCII_KEY_MAX {
            return KEY_MEMO.with(|memo| match memo.try_borrow_mut() {
                Ok(mut memo) => memo.answer(self.id, key, || self.is_secret_ascii_key(key)),
                Err(_) => self.is_secret_ascii_key(key),
            });
        }
        let lower = key.to_lowercase();
        if self.headers.contains(&lower) {
            return true;
        }
        let words = key_words(key);
        words.iter().any(|w| SECRET_WORDS.contains(&w.as_str()))
            || words
                .windows(2)
                .any(|p| SECRET_PAIRS.contains(&(p[0].as_str(), p[1].as_str())))
    }

    /// [`Redactor::is_secret_key`] of an ASCII key of at most
    /// [`ASCII_KEY_MAX`] bytes, without an allocation: the same words
    /// ([`key_words`]), as ranges of the key lowercased on the stack. Every
    /// record has dozens of keys, each asked about once.
    fn is_secret_ascii_key(&self, key: &str) -> bool {
        let mut buf = [0u8; ASCII_KEY_MAX];
        let Some(lower) = buf.get_mut(..key.len()) else {
            return false;
        };
        lower.copy_from_slice(key.as_bytes());
        lower.make_ascii_lowercase();
        let lower: &[u8] = lower;
        if self.headers.iter().any(|h| h.as_bytes() == lower) {
            return true;
        }
        // Whether word `w` (after the word before it) makes the key a secret's name.
        let mut previous = 0..0;
        let mut secret = |w: std::ops::Range<usize>| {
            let word = lower.get(w.clone()).unwrap_or_default();
            let before = lower.get(previous.clone()).unwrap_or_default();
            previous = w;
            let initial = word.first().map_or(0, |&b| INITIALS[usize::from(b)]);
            (initial & WORD_INITIAL != 0 && SECRET_WORDS.iter().any(|s| s.as_bytes() == word))
                || (initial & PAIR_INITIAL != 0
                    && SECRET_PAIRS
                        .iter()
                        .any(|(a, b)| a.as_bytes() == before && b.as_bytes() == word))
        };
        let mut start: Option<usize> = None;
        let mut prev_lower = false;
        for (i, &c) in key.as_bytes().iter().enumerate() {
            if !c.is_ascii_alphanumeric() {
                if let Some(s) = start.take()
                    && secret(s..i)
                {
                    return true;
                }
                prev_lower = false;
                continue;
            }
            if c.is_ascii_uppercase() && prev_lower {
                if let Some(s) = start
                    && secret(s..i)
                {
                    return true;
                }
                start = Some(i);
            }
            start.get_or_insert(i);
            prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        }
        start.is_some_and(|s| secret(s..key.len()))
    }
}

/// The answers of [`Redactor::is_secret_key`] one thread gave for one redactor
/// (ASCII keys): the records of a batch hold mostly the same few keys, and a
/// lookup costs less than reading a key's words again.
#[derive(Default)]
struct KeyMemo {
    /// Whose answers these are ([`Redactor`]'s `id`).
    redactor: u64,
    answers: std::collections::HashMap<Box<str>, bool, foldhash::fast::FixedState>,
}

/// Past this many keys the memo starts again (input with ever new keys).
const KEY_MEMO_MAX: usize = 4096;

impl KeyMemo {
    fn answer(&mut self, redactor: u64, key: &str, compute: impl FnOnce() -> bool) -> bool {
        if self.redactor != redactor || self.answers.len() >= KEY_MEMO_MAX {
            self.redactor = redactor;
            self.answers.clear();
        }
        if let Some(&answer) = self.answers.get(key) {
            return answer;
        }
        let answer = compute();
        self.answers.insert(key.into(), answer);
        answer
    }
}

thread_local! {
    static KEY_MEMO: std::cell::RefCell<KeyMemo> = std::cell::RefCell::default();
}

/// The `id` of the next [`Redactor`] built (0 is no redactor's).
static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// For each byte: [`WORD_INITIAL`] when a word of [`SECRET_WORDS`] starts with
/// it, [`PAIR_INITIAL`] when the second word of a pair of [`SECRET_PAIRS`] does
/// (most words of a key start with neither, and need no comparison).
const INITIALS: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < SECRET_WORDS.len() {
        table[SECRET_WORDS[i].as_bytes()[0] as usize] |= WORD_INITIAL;
        i += 1;
    }
    let mut i = 0;
    while i < SECRET_PAIRS.len() {
        table[SECRET_PAIRS[i].1.as_bytes()[0] as usize] |= PAIR_INITIAL;
        i += 1;
    }
    table
};
const WORD_INITIAL: u8 = 1;
const PAIR_INITIAL: u8 = 2;

/// The longest key [`Redactor::is_secret_ascii_key`] takes (longer ones take
/// the general way).
const ASCII_KEY_MAX: usize = 64;

/// What replaces URL userinfo (`scheme://[REDACTED]@`) and a URL parameter's
/// value (`?token=[REDACTED]`).
const USERINFO_TO: &str = "${1}[REDACTED]@";
const URL_PARAM_TO: &str = "${1}${2}=[REDACTED]";

/// Replace the matches of `re` in `text` with `to`, and note `label` in `rules`
/// when that changed the text.
fn replace(text: &mut Cow<'_, str>, re: &Regex, to: &str, label: &str, rules: &mut Vec<String>) {
    let new = match re.replace_all(text, to) {
        Cow::Owned(new) if new != **text => new,
        _ => return,
    };
    *text = Cow::Owned(new);
    rules.push(label.to_owned());
}

/// Whether a payload's top-level key names its headers.
fn is_headers(key: &str) -> bool {
    if key.is_ascii() {
        key.eq_ignore_ascii_case("headers")
    } else {
        key.to_lowercase() == "headers"
    }
}

/// Replace every string under `value` (a secret key's value) with [`REDACTED`].
fn blank<T: TreeMut>(value: &mut T, rules: &mut Vec<String>) {
    match value.kind() {
        Kind::Str(_) | Kind::Plain(_) => value.map_text(|s| {
            (s != REDACTED && !s.is_empty()).then(|| {
                rules.push("rule:secret_key".to_owned());
                REDACTED.to_owned()
            })
        }),
        Kind::Arr => value.items_mut().for_each(|v| blank(v, rules)),
        Kind::Obj => value.entries_mut().for_each(|(_, v)| blank(v, rules)),
        Kind::Null | Kind::Bool(_) | Kind::Num(_) => {}
    }
}

/// The lowercase words of a key: split at `_`, `-`, `.`, spaces and camelCase.
fn key_words(key: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for c in key.chars() {
        if !c.is_alphanumeric() {
            if !cur.is_empty() {
                words.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower && !cur.is_empty() {
            words.push(std::mem::take(&mut cur));
        }
        prev_lower = c.is_lowercase() || c.is_ascii_digit();
        cur.extend(c.to_lowercase());
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builtin() -> Result<Redactor> {
        Redactor::new(None, &[], std::path::Path::new("m"))
    }

    #[test]
    fn keys_are_compared_by_words() -> Result<()> {
        let r = builtin()?;
        for secret in [
            "password",
            "clientSecret",
            "client_secret",
            "api_key",
            "X-Api-Key",
            "access_token",
            "Proxy-Authorization",
            "Set-Cookie",
            "db.password",
            "privateKey",
        ] {
            assert!(r.is_secret_key(secret), "{secret}");
        }
        for plain in [
            "author",
            "total_tokens",
            "keyword",
            "natural_key",
            "tokens",
            "title",
        ] {
            assert!(!r.is_secret_key(plain), "{plain}");
        }
        Ok(())
    }

    proptest::proptest! {
        /// The allocation-free reading of an ASCII key gives the answer of the
        /// general one (its words, [`key_words`]) on keys made of words,
        /// separators and case changes.
        #[test]
        fn ascii_keys_read_like_any_key(
            key in "((pass[Ww]ord|Secret|TOKEN|api|Key|auth|private|session|Id|author|[A-Za-z0-9]{0,5})[-_. /]?){0,5}",
            extra in proptest::option::of("[a-z-]{1,12}"),
        ) {
            let extra: Vec<String> = extra.into_iter().collect();
            let r = Redactor::new(Some(&extra), &[], std::path::Path::new("m"))
                .map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
            let words = key_words(&key);
            let general = r.headers.contains(&key.to_lowercase())
                || words.iter().any(|w| SECRET_WORDS.contains(&w.as_str()))
                || words
                    .windows(2)
                    .any(|p| SECRET_PAIRS.contains(&(p[0].as_str(), p[1].as_str())));
            proptest::prop_assert_eq!(r.is_secret_key(&key), general, "{}", key);
        }
    }

    /// Ordinary prose and numbers under ordinary keys pass unchanged.
    #[test]
    fn prose_is_left_alone() -> Result<()> {
        let response = serde_json::json!({
            "text": "This is basic functionality; the author wrote about cookies and tokens.",
            "usage": {"total_tokens": 1234, "prompt_tokens": 1000},
            "url": "https://example.org/wiki/Page?action=raw&title=Main",
        });
        let out = builtin()?.redact(&Value::Null, &response);
        assert_eq!(out.response, response);
        assert!(out.labels.is_empty());
        Ok(())
    }
}
