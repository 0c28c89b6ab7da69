//! The in-memory hash-chained audit trail every governed call is written to.

use std::sync::{Arc, Mutex, MutexGuard};

use agt_engine::audit::{self, AuditError, AuditLog, ChainHead, Pin};

/// An append-only audit trail, shared by every tool a `Governor` governs. Thread-safe.
///
/// Records use agt-core's layout byte for byte, so a trail exported here verifies with the Python
/// packages and every other SDK (and theirs here).
#[derive(Clone, Debug, Default)]
pub struct AuditTrail {
    log: Arc<Mutex<AuditLog>>,
}

fn poisoned() -> AuditError {
    AuditError::Write("the audit trail was left in an unknown state by a panic; refusing to append".into())
}

impl AuditTrail {
    /// An empty trail.
    pub fn new() -> AuditTrail {
        AuditTrail::default()
    }

    fn lock(&self) -> Result<MutexGuard<'_, AuditLog>, AuditError> {
        self.log.lock().map_err(|_| poisoned())
    }

    pub(crate) fn append(&self, request: &str, decision: &str, approval: &str) -> Result<String, AuditError> {
        let mut log = self.lock()?;
        log.append(&audit::utc_now(), request, decision, approval).map(String::from)
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.lock().map_or(0, |l| l.len())
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `(count, hash of the last record)`: publish or sign it to pin the trail.
    pub fn head(&self) -> Result<(u64, String), AuditError> {
        let log = self.lock()?;
        let (count, hash) = log.head();
        Ok((count, hash.to_string()))
    }

    /// The exported trail: one canonical JSON line per record (hash included), oldest first.
    pub fn lines(&self) -> Result<Vec<String>, AuditError> {
        self.lock()?.lines()
    }

    /// Re-checks every record and link; returns the head.
    pub fn verify(&self) -> Result<ChainHead, AuditError> {
        self.lock()?.verify()
    }
}

/// Verifies an exported trail (JSON lines text) against a head and/or count published elsewhere.
/// Without either, a truncated or rebuilt trail cannot be told from a genuine one, so one is
/// required.
pub fn verify_trail(
    text: &str,
    expected_head: Option<&str>,
    expected_count: Option<u64>,
) -> Result<ChainHead, AuditError> {
    let pin = Pin { expected_head: expected_head.map(String::from), expected_count, ..Pin::default() };
    audit::verify_lines(audit::trail_lines(text), &pin)
}
