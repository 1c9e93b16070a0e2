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

use regex::{Regex, RegexSet};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::manifest::RedactionPolicy;
use crate::record::ExchangeRecord;

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
        Ok(Redactor {
            enabled: true,
            headers: all,
            patterns,
            any,
            url,
            userinfo,
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
        if !self.enabled {
            return false;
        }
        let mut labels = Vec::new();
        self.part(&mut record.request, "request", &mut labels);
        self.part(&mut record.response, "response", &mut labels);
        let mut rules = Vec::new();
        let mut strings: Vec<&mut String> = Vec::new();
        strings.extend(record.natural_key.as_mut());
        strings.extend(record.response_ref.as_mut());
        strings.extend(record.tags.iter_mut());
        if let Some(p) = record.provenance.as_mut() {
            strings.extend(p.runner_name.as_mut());
            strings.extend(p.host.as_mut());
            strings.extend(p.git_sha.as_mut());
            strings.extend(p.connector_version.as_mut());
        }
        for s in strings {
            self.string(s, &mut rules);
        }
        for (key, value) in record.extra.iter_mut() {
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
            if !record.redactions_applied.contains(&l) {
                record.redactions_applied.push(l);
            }
        }
        record.redactions_applied.sort();
        changed
    }

    /// Redact one payload (`request` or `response`), adding `WHERE_headers` /
    /// `WHERE_secrets` and the rules to `labels`.
    fn part(&self, value: &mut Value, where_: &str, labels: &mut Vec<String>) {
        let (mut header_rules, mut rules) = (Vec::new(), Vec::new());
        if let Value::Object(map) = value {
            for (key, v) in map.iter_mut() {
                match (key.to_lowercase().as_str(), v) {
                    ("headers", Value::Object(h)) => {
                        for (name, hv) in h.iter_mut() {
                            if self.is_secret_key(name) {
                                blank(hv, &mut header_rules);
                            } else {
                                self.value(hv, &mut rules);
                            }
                        }
                    }
                    (_, v) if self.is_secret_key(key) => blank(v, &mut rules),
                    (_, v) => self.value(v, &mut rules),
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
    fn value(&self, value: &mut Value, rules: &mut Vec<String>) {
        match value {
            Value::String(s) => self.string(s, rules),
            Value::Array(items) => items.iter_mut().for_each(|v| self.value(v, rules)),
            Value::Object(map) => {
                for (key, v) in map.iter_mut() {
                    if self.is_secret_key(key) {
                        blank(v, rules);
                    } else {
                        self.value(v, rules);
                    }
                }
            }
            _ => {}
        }
    }

    /// Apply the URL rules and the patterns to one string.
    fn string(&self, s: &mut String, rules: &mut Vec<String>) {
        if s.contains("://") {
            let new = self
                .userinfo
                .replace_all(s, format!("${{1}}{REDACTED}@").as_str());
            if new != *s {
                *s = new.into_owned();
                rules.push("rule:url_userinfo".to_owned());
            }
        }
        if s.contains('=') {
            let new = self
                .url
                .replace_all(s, format!("${{1}}${{2}}={REDACTED}").as_str());
            if new != *s {
                *s = new.into_owned();
                rules.push("rule:url_param".to_owned());
            }
        }
        if !self.any.is_match(s) {
            return;
        }
        for (label, re) in &self.patterns {
            if re.is_match(s) {
                let new = re.replace_all(s, REDACTED);
                if new != *s {
                    *s = new.into_owned();
                    rules.push(label.clone());
                }
            }
        }
    }

    /// Whether an object key names a sensitive header or a secret.
    pub fn is_secret_key(&self, key: &str) -> bool {
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
}

/// Replace every string under `value` (a secret key's value) with [`REDACTED`].
fn blank(value: &mut Value, rules: &mut Vec<String>) {
    match value {
        Value::String(s) if s != REDACTED && !s.is_empty() => {
            *s = REDACTED.to_owned();
            rules.push("rule:secret_key".to_owned());
        }
        Value::Array(items) => items.iter_mut().for_each(|v| blank(v, rules)),
        Value::Object(map) => map.values_mut().for_each(|v| blank(v, rules)),
        _ => {}
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
