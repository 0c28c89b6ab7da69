//! The audit record of a governed call, built and hashed in one crossing.
//!
//! agent-os's `AuditLog` builds each record from canonical JSON it already holds (the request
//! builder's text, the decision's cached text) and hashes it. In Python that step is a clock
//! read and format, one string join and `hashlib.sha256` (whose OpenSSL 3 set-up alone costs
//! more than hashing the few hundred bytes); here it is one call. The layout is agt-core's
//! `audit_record_body` byte for byte, and the hash its `record_hash`: a differential test in
//! `tests/test_hot_path.py` holds them together, and `AuditLog.verify(deep=True)` re-checks
//! every record written this way against the canonical form.

use agt_engine::audit::{record_hash, utc_now, utc_timestamp};
use pyo3::prelude::*;

use crate::guarded;

/// The record body from its parts (each already canonical JSON, as agt-core's
/// `audit_record_body` requires of its callers), keys in RFC 8785 order.
pub(crate) fn body(
    seq: u64,
    timestamp: &str,
    prev_hash: &str,
    request: &str,
    decision: &str,
    approval: &str,
) -> String {
    let mut out = String::with_capacity(96 + timestamp.len() + request.len() + decision.len() + approval.len());
    out.push_str("{\"approval\":");
    out.push_str(approval);
    out.push_str(",\"decision\":");
    out.push_str(decision);
    out.push_str(",\"prev_hash\":\"");
    out.push_str(prev_hash);
    out.push_str("\",\"request\":");
    out.push_str(request);
    out.push_str(",\"seq\":");
    out.push_str(&seq.to_string());
    out.push_str(",\"timestamp\":\"");
    out.push_str(timestamp);
    out.push_str("\"}");
    out
}

/// `(body, hash)` of the next record, stamped with the current UTC time as agt-core's
/// `UtcClock` writes it. The caller holds its log's lock: `seq` and `prev_hash` are the chain's
/// state at the moment the record joins it.
#[pyfunction]
#[pyo3(signature = (seq, prev_hash, request_json, decision_json, approval_json, timestamp_micros = None))]
fn chain_record(
    seq: u64,
    prev_hash: &str,
    request_json: &str,
    decision_json: &str,
    approval_json: &str,
    timestamp_micros: Option<i64>,
) -> PyResult<(String, String)> {
    guarded(|| {
        // `timestamp_micros` pins the clock (tests compare with agt-core's formatting).
        let timestamp = timestamp_micros.map_or_else(utc_now, utc_timestamp);
        let text = body(seq, &timestamp, prev_hash, request_json, decision_json, approval_json);
        let digest = record_hash(&text);
        Ok((text, digest))
    })
}

/// Adds this module's functions to `_native`.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(chain_record, m)?)
}
