//! The audit record's layout, hash and chain verification, byte for byte as agt-core writes them.
//!
//! A record body is the RFC 8785 canonical JSON of six fields,
//! `{"approval":…,"decision":…,"prev_hash":"<64 hex>","request":…,"seq":N,"timestamp":"…"}`;
//! its hash is the lowercase hex SHA-256 of the UTF-8 bytes and becomes the next record's
//! `prev_hash` (64 zeros before the first). An exported line is the body with `"hash"` inserted
//! before `"prev_hash"` (canonical key order). Editing any field of any record breaks the chain at
//! that record; cutting records off the end shows only against a head published elsewhere, which
//! is why `verify_lines` wants a pinned head or count. `conformance/audit/chain.json` pins the
//! bytes and hashes for every language.

use crate::canonical::{canonical_json, sha256_hex};
use crate::json_text::parse_strict;

/// `prev_hash` of the first record of a chain.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The fields of a record body; an exported line also has `hash`.
pub const RECORD_FIELDS: [&str; 6] = ["approval", "decision", "prev_hash", "request", "seq", "timestamp"];

const PREV_KEY: &str = "\"prev_hash\":\"";
const SEQ_KEY: &str = ",\"seq\":";

/// Where a verified chain ends: publish or sign it to pin everything before it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainHead {
    /// Records verified.
    pub count: u64,
    /// Sequence number of the last record (`start_seq - 1` when there were none).
    pub seq: i64,
    /// Hash of the last record (the starting `prev_hash` when there were none).
    pub hash: String,
}

/// What went wrong writing or verifying a trail; `kind()` names it as agt-core's errors do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuditError {
    /// The trail does not verify: `index` is the sequence number of the first bad record (or
    /// the position after the last one, for a count or head mismatch).
    Integrity { index: u64, message: String },
    /// A record cannot be written as given (agt-core's `AuditWriteError`).
    Write(String),
    /// Verification was asked for without a pinned head or count (agt-core raises `ValueError`).
    Unpinned(String),
}

impl AuditError {
    /// `audit_integrity`, `audit_write` or `unpinned`.
    pub fn kind(&self) -> &'static str {
        match self {
            AuditError::Integrity { .. } => "audit_integrity",
            AuditError::Write(_) => "audit_write",
            AuditError::Unpinned(_) => "unpinned",
        }
    }

    /// The message without the kind.
    pub fn message(&self) -> &str {
        match self {
            AuditError::Integrity { message, .. } | AuditError::Write(message) | AuditError::Unpinned(message) => {
                message
            }
        }
    }
}

impl std::fmt::Display for AuditError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for AuditError {}

fn integrity(index: u64, message: String) -> AuditError {
    AuditError::Integrity { index, message }
}

fn is_hash(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Canonical JSON of a record part given as any JSON text (`"null"` for no approval).
pub fn canonical_part(name: &str, json_text: &str) -> Result<String, AuditError> {
    let value = parse_strict(json_text).map_err(|e| AuditError::Write(format!("{name} is not JSON: {e}")))?;
    canonical_json(&value).map_err(|e| AuditError::Write(format!("{name} has no canonical form: {e}")))
}

/// The canonical JSON of one record from the canonical JSON of its parts.
///
/// Unlike agt-core (whose callers pass text they produced themselves), every part is checked:
/// `timestamp` must be printable ASCII without `"` or `\`, `prev_hash` 64 lowercase hex digits, and
/// each JSON part already canonical, so a caller cannot write a record other languages reject.
pub fn record_body(
    seq: u64,
    timestamp: &str,
    prev_hash: &str,
    request_json: &str,
    decision_json: &str,
    approval_json: &str,
) -> Result<String, AuditError> {
    if timestamp.is_empty() || !timestamp.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\') {
        return Err(AuditError::Write(format!(
            "timestamp {timestamp:?} must be printable ASCII without quotes or backslashes"
        )));
    }
    if !is_hash(prev_hash) {
        return Err(AuditError::Write(format!("prev_hash {prev_hash:?} is not 64 lowercase hex digits")));
    }
    for (name, part) in [("request", request_json), ("decision", decision_json), ("approval", approval_json)] {
        if canonical_part(name, part)? != part {
            return Err(AuditError::Write(format!("{name} is not canonical JSON; canonicalise it first")));
        }
    }
    Ok(format!(
        "{{\"approval\":{approval_json},\"decision\":{decision_json},\"prev_hash\":\"{prev_hash}\",\
         \"request\":{request_json},\"seq\":{seq},\"timestamp\":\"{timestamp}\"}}"
    ))
}

/// The record's hash: lowercase hex SHA-256 of the body's UTF-8 bytes.
pub fn record_hash(body: &str) -> String {
    sha256_hex(body.as_bytes())
}

/// The exported line: the body with `"hash"` before `"prev_hash"` (canonical key order).
pub fn record_line(body: &str, hash: &str) -> Result<String, AuditError> {
    let at = body
        .find(PREV_KEY)
        .and_then(|i| i.checked_sub(1))
        .ok_or_else(|| AuditError::Write("the body has no `prev_hash` field; it is not an audit record".into()))?;
    let (head, tail) = body.split_at(at);
    Ok(format!("{head},\"hash\":\"{hash}\"{tail}"))
}

fn parse_fast(body: &str) -> (Option<u64>, Option<&str>) {
    let prev = body.find(PREV_KEY).and_then(|i| body.get(i + PREV_KEY.len()..i + PREV_KEY.len() + 64));
    let seq = body.rfind(SEQ_KEY).and_then(|i| {
        let rest = body.get(i + SEQ_KEY.len()..)?;
        let text = &rest[..rest.find(',').unwrap_or(rest.len())];
        if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
            text.parse().ok()
        } else {
            None
        }
    });
    (seq, prev)
}

fn parse_deep(body: &str, seq: u64) -> Result<(Option<u64>, Option<String>), AuditError> {
    let fields = parse_strict(body).map_err(|_| integrity(seq, format!("record {seq} is not valid JSON")))?;
    let Some(map) = fields.as_object().filter(|m| m.len() == 6 && RECORD_FIELDS.iter().all(|k| m.contains_key(*k)))
    else {
        return Err(integrity(seq, format!("record {seq} does not have the audit record's fields")));
    };
    if canonical_json(&fields).ok().as_deref() != Some(body) {
        return Err(integrity(seq, format!("record {seq} is not in canonical form")));
    }
    Ok((map.get("seq").and_then(|s| s.as_u64()), map.get("prev_hash").and_then(|p| p.as_str()).map(String::from)))
}

/// Checks stored `(hash, body)` pairs, oldest first: each body hashes to its hash, carries the next
/// sequence number and links to the record before it. `deep` also checks each body is canonical
/// JSON with exactly the record's fields. Returns the head; compare it with a published one.
pub fn verify_chain<'a>(
    entries: impl IntoIterator<Item = (&'a str, &'a str)>,
    start_seq: u64,
    prev_hash: &str,
    deep: bool,
) -> Result<ChainHead, AuditError> {
    let (mut seq, mut prev, mut count) = (start_seq, prev_hash.to_string(), 0u64);
    for (digest, body) in entries {
        if record_hash(body) != digest {
            return Err(integrity(seq, format!("record {seq} does not match its hash")));
        }
        let (record_seq, record_prev) = if deep {
            parse_deep(body, seq)?
        } else {
            let (s, p) = parse_fast(body);
            (s, p.map(String::from))
        };
        if record_seq != Some(seq) {
            let shown = record_seq.map_or_else(|| "?".to_string(), |s| s.to_string());
            return Err(integrity(
                seq,
                format!("record {seq} carries sequence number `{shown}`; records were removed or reordered"),
            ));
        }
        if record_prev.as_deref() != Some(prev.as_str()) {
            return Err(integrity(
                seq,
                format!("record {seq} does not link to the record before it; the trail was altered"),
            ));
        }
        prev = digest.to_string();
        seq += 1;
        count += 1;
    }
    Ok(ChainHead { count, seq: seq as i64 - 1, hash: prev })
}

/// What an exported trail must end at, and where it starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pin {
    /// Hash the last record must have (from a published or signed head).
    pub expected_head: Option<String>,
    /// How many records the trail must hold.
    pub expected_count: Option<u64>,
    /// Sequence number of the first line (0 for a complete trail).
    pub start_seq: u64,
    /// Hash the first line links to (`GENESIS_HASH` for a complete trail).
    pub prev_hash: String,
    /// Accept a trail with neither head nor count: proves only internal consistency.
    pub allow_unpinned: bool,
}

impl Default for Pin {
    fn default() -> Pin {
        Pin {
            expected_head: None,
            expected_count: None,
            start_seq: 0,
            prev_hash: GENESIS_HASH.to_string(),
            allow_unpinned: false,
        }
    }
}

/// Verifies an exported trail (one canonical JSON line per record, oldest first; trailing `\n`
/// ignored) against a pinned head and/or count, as agt-core's `verify_audit_lines` does.
pub fn verify_lines<'a>(lines: impl IntoIterator<Item = &'a str>, pin: &Pin) -> Result<ChainHead, AuditError> {
    if pin.expected_head.is_none() && pin.expected_count.is_none() && !pin.allow_unpinned {
        return Err(AuditError::Unpinned(
            "verifying a trail needs an expected head or count (from a published or signed head) to detect \
             truncation or a rebuilt chain; allow unpinned verification explicitly to check only internal consistency"
                .into(),
        ));
    }
    let (mut seq, mut prev, mut count) = (pin.start_seq, pin.prev_hash.clone(), 0u64);
    for line in lines {
        let text = line.trim_end_matches('\n');
        let fields = parse_strict(text).map_err(|_| integrity(seq, format!("record {seq} is not valid JSON")))?;
        let Some(map) = fields
            .as_object()
            .filter(|m| m.len() == 7 && m.contains_key("hash") && RECORD_FIELDS.iter().all(|k| m.contains_key(*k)))
        else {
            return Err(integrity(seq, format!("record {seq} does not have the audit record's fields")));
        };
        let canonical =
            canonical_json(&fields).map_err(|e| integrity(seq, format!("record {seq} has no canonical form: {e}")))?;
        if canonical != text {
            return Err(integrity(seq, format!("record {seq} is not in canonical form")));
        }
        let mut body_fields = map.clone();
        let digest = body_fields.shift_remove("hash");
        let body = canonical_json(&serde_json::Value::Object(body_fields))
            .map_err(|e| integrity(seq, format!("record {seq} has no canonical form: {e}")))?;
        let digest = digest.as_ref().and_then(|d| d.as_str()).unwrap_or_default();
        if record_hash(&body) != digest {
            return Err(integrity(seq, format!("record {seq} does not match its hash")));
        }
        let record_seq = map.get("seq").filter(|s| s.is_u64() || s.is_i64());
        if record_seq.and_then(|s| s.as_u64()) != Some(seq) {
            let shown = map.get("seq").map_or_else(String::new, |s| s.to_string());
            return Err(integrity(
                seq,
                format!("record {seq} carries sequence number `{shown}`; records were removed or reordered"),
            ));
        }
        if map.get("prev_hash").and_then(|p| p.as_str()) != Some(prev.as_str()) {
            return Err(integrity(
                seq,
                format!("record {seq} does not link to the record before it; the trail was altered"),
            ));
        }
        prev = digest.to_string();
        seq += 1;
        count += 1;
    }
    if let Some(expected) = pin.expected_count {
        if count != expected {
            let what = if count < expected { "records were cut off its end" } else { "records were added" };
            return Err(integrity(
                seq,
                format!("the trail holds {count} records where {expected} were expected; {what}"),
            ));
        }
    }
    if let Some(expected) = &pin.expected_head {
        if &prev != expected {
            return Err(integrity(
                seq,
                format!("the trail ends at `{prev}`, not at the expected head `{expected}`; it was truncated, extended or rebuilt"),
            ));
        }
    }
    Ok(ChainHead { count, seq: seq as i64 - 1, hash: prev })
}

/// Splits a trail file into lines: `\n` ends a line, and a final newline adds no empty record.
pub fn trail_lines(text: &str) -> Vec<&str> {
    let text = text.strip_suffix('\n').unwrap_or(text);
    if text.is_empty() {
        Vec::new()
    } else {
        text.split('\n').collect()
    }
}

/// An in-memory hash-chained audit log: each appended record links to the one before it.
#[derive(Clone, Debug, Default)]
pub struct AuditLog {
    /// `(hash, body)` per record, oldest first.
    records: Vec<(String, String)>,
}

impl AuditLog {
    /// An empty log.
    pub fn new() -> AuditLog {
        AuditLog::default()
    }

    /// Appends one record from canonical JSON parts (`"null"` for no approval); returns its hash.
    pub fn append(
        &mut self,
        timestamp: &str,
        request_json: &str,
        decision_json: &str,
        approval_json: &str,
    ) -> Result<&str, AuditError> {
        let prev = self.records.last().map_or(GENESIS_HASH, |(h, _)| h.as_str());
        let body = record_body(self.records.len() as u64, timestamp, prev, request_json, decision_json, approval_json)?;
        let hash = record_hash(&body);
        self.records.push((hash, body));
        Ok(self.records.last().map_or("", |(h, _)| h.as_str()))
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// True when no record was appended.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// `(count, hash of the last record)`: publish it to pin the trail.
    pub fn head(&self) -> (u64, &str) {
        (self.records.len() as u64, self.records.last().map_or(GENESIS_HASH, |(h, _)| h.as_str()))
    }

    /// `(hash, body)` per record, oldest first.
    pub fn records(&self) -> &[(String, String)] {
        &self.records
    }

    /// The exported lines, oldest first.
    pub fn lines(&self) -> Result<Vec<String>, AuditError> {
        self.records.iter().map(|(hash, body)| record_line(body, hash)).collect()
    }

    /// Re-checks every record (deep); returns the head.
    pub fn verify(&self) -> Result<ChainHead, AuditError> {
        verify_chain(self.records.iter().map(|(h, b)| (h.as_str(), b.as_str())), 0, GENESIS_HASH, true)
    }
}

/// A UTC timestamp as agt-core's `UtcClock` writes it (`2026-12-01T13:49:20.123456Z`) from
/// microseconds since the Unix epoch.
pub fn utc_timestamp(micros: i64) -> String {
    let (seconds, micro) = (micros.div_euclid(1_000_000), micros.rem_euclid(1_000_000));
    // Records come many per second: the date and time of day are written once per second and
    // thread, as agt-core's UtcClock does, and only the microseconds per record.
    let mut out = String::with_capacity(32);
    SECOND_TEXT.with(|cell| {
        let mut last = cell.borrow_mut();
        if last.0 != Some(seconds) {
            *last = (Some(seconds), second_text(seconds));
        }
        out.push_str(&last.1);
    });
    push_padded(&mut out, micro, 6);
    out.push('Z');
    out
}

thread_local! {
    /// The last second written by `utc_timestamp` on this thread, and its text up to the `.`.
    static SECOND_TEXT: std::cell::RefCell<(Option<i64>, String)> = const { std::cell::RefCell::new((None, String::new())) };
}

/// `YYYY-MM-DDTHH:MM:SS.` for a second since the Unix epoch.
fn second_text(seconds: i64) -> String {
    let (days, second_of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    // days since 1970-01-01 to a civil date (Howard Hinnant's algorithm)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    if !(0..=9999).contains(&year) {
        return format!(
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.",
            second_of_day / 3600,
            second_of_day % 3600 / 60,
            second_of_day % 60
        );
    }
    // Written digit by digit: every audit record of a governed call is stamped, and the
    // formatting machinery cost more than the rest of the stamp.
    let mut out = String::with_capacity(27);
    for (value, width, after) in [
        (year, 4, '-'),
        (month, 2, '-'),
        (day, 2, 'T'),
        (second_of_day / 3600, 2, ':'),
        (second_of_day % 3600 / 60, 2, ':'),
        (second_of_day % 60, 2, '.'),
    ] {
        push_padded(&mut out, value, width);
        out.push(after);
    }
    out
}

/// Appends `value` (0 to 999,999) in decimal, zero-padded to `width` digits.
fn push_padded(out: &mut String, value: i64, width: u32) {
    let mut unit = 10_i64.pow(width - 1);
    while unit > 0 {
        let digit = u8::try_from(value / unit % 10).unwrap_or(0);
        out.push(char::from(b'0' + digit));
        unit /= 10;
    }
}

/// The current UTC time as [`utc_timestamp`] writes it.
pub fn utc_now() -> String {
    let micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX));
    utc_timestamp(micros)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn timestamps_match_python() {
        // python: time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(1796132960)) -> 2026-12-01T13:49:20
        assert_eq!(utc_timestamp(1_796_132_960_123_456), "2026-12-01T13:49:20.123456Z");
        assert_eq!(utc_timestamp(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(utc_timestamp(951_782_400_000_001), "2000-02-29T00:00:00.000001Z");
        assert_eq!(utc_timestamp(253_402_300_799_999_999), "9999-12-31T23:59:59.999999Z");
        assert_eq!(utc_timestamp(253_402_300_800_000_000), "10000-01-01T00:00:00.000000Z");
        assert_eq!(utc_timestamp(-1), "1969-12-31T23:59:59.999999Z");
    }

    #[test]
    fn a_log_verifies_and_a_tampered_line_does_not() {
        let mut log = AuditLog::new();
        for i in 0..3 {
            let request = format!("{{\"seq\":{i}}}");
            log.append("2026-12-01T10:00:00.000000Z", &request, "{\"effect\":\"allow\"}", "null").unwrap();
        }
        assert_eq!(log.verify().unwrap().count, 3);
        let lines = log.lines().unwrap();
        let (count, head) = log.head();
        let pin = Pin { expected_head: Some(head.to_string()), expected_count: Some(count), ..Pin::default() };
        assert_eq!(verify_lines(lines.iter().map(String::as_str), &pin).unwrap().hash, head);
        let mut tampered = lines.clone();
        tampered[1] = tampered[1].replace("allow", "deny\"");
        assert!(verify_lines(tampered.iter().map(String::as_str), &pin).is_err());
        assert_eq!(verify_lines(lines[..2].iter().map(String::as_str), &pin).unwrap_err().kind(), "audit_integrity");
        assert_eq!(verify_lines(lines.iter().map(String::as_str), &Pin::default()).unwrap_err().kind(), "unpinned");
        assert!(record_body(0, "t\"", GENESIS_HASH, "{}", "{}", "null").is_err());
        assert!(record_body(0, "t", GENESIS_HASH, "{ }", "{}", "null").is_err());
    }
}
