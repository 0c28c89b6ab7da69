//! `NativeTrail`: the state of agent-os's in-memory `AuditLog`, held natively.
//!
//! An `AuditLog` that a native policy set's kernel writes to moves its chain here (seq, head,
//! anchor, the retained records and their size): a governed call's `CallPlan` then decides the
//! call and appends its record in the same crossing, under this trail's own lock, with no
//! Python step in between. The log's other writers (the kernel's general path, refusals) append
//! through `append`, and its readers take a `snapshot` and verify it with agt-core's functions,
//! exactly as they verify the Python-held chain. Records are laid out and hashed by the same
//! functions as `chain_record` (`hot_path::body`, `record_hash`).
//!
//! The lock is never held while Python code could run (no Python object is made or dropped
//! under it): a thread that held it and gave up the GIL would deadlock one waiting for it.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};

use agt_engine::audit::{record_hash, utc_now, utc_timestamp};
use pyo3::exceptions::{PyIndexError, PyRuntimeError};
use pyo3::prelude::*;

use crate::{guarded, hot_path};

/// The chain's state, as `AuditLog` keeps it in Python.
pub(crate) struct Trail {
    /// `(hash, body, characters of body)` of each retained record, oldest first.
    entries: VecDeque<(String, String, usize)>,
    /// Characters (code points) of the retained bodies.
    chars: usize,
    next_seq: u64,
    head: String,
    anchor_seq: u64,
    anchor_hash: String,
    max_records: usize,
    max_chars: usize,
}

impl Trail {
    /// Appends the next record (stamped now, or at `timestamp_micros`) and returns its hash.
    pub(crate) fn push(
        &mut self,
        request_json: &str,
        decision_json: &str,
        approval_json: &str,
        timestamp_micros: Option<i64>,
    ) -> String {
        let timestamp = timestamp_micros.map_or_else(utc_now, utc_timestamp);
        let seq = self.next_seq;
        let body = hot_path::body(seq, &timestamp, &self.head, request_json, decision_json, approval_json);
        let digest = record_hash(&body);
        let chars = chars_of(&body);
        self.chars += chars;
        self.entries.push_back((digest.clone(), body, chars));
        self.next_seq = seq + 1;
        self.head.clone_from(&digest);
        // the newest record is always kept, even alone over the size bound
        while self.entries.len() > self.max_records || (self.chars > self.max_chars && self.entries.len() > 1) {
            if let Some((hash, _, chars)) = self.entries.pop_front() {
                self.chars -= chars;
                self.anchor_seq += 1;
                self.anchor_hash = hash;
            }
        }
        digest
    }
}

/// Characters (code points) of a text, as Python's `len` counts them: most records are ASCII.
fn chars_of(text: &str) -> usize {
    if text.is_ascii() {
        text.len()
    } else {
        text.chars().count()
    }
}

/// A snapshot: `(entries, anchor_seq, anchor_hash, next_seq, head, chars)`.
type Snapshot = (Vec<(String, String)>, u64, String, u64, String, usize);

#[pyclass(frozen, module = "agt_evaluator._native")]
pub(crate) struct NativeTrail {
    state: Mutex<Trail>,
}

impl NativeTrail {
    pub(crate) fn lock(&self) -> PyResult<MutexGuard<'_, Trail>> {
        self.state.lock().map_err(|_| {
            PyRuntimeError::new_err("the native audit trail's lock is poisoned; the log cannot be written")
        })
    }
}

#[pymethods]
impl NativeTrail {
    /// Takes over a log's state: its bounds, next seq and head, anchor, and retained records.
    #[new]
    #[allow(clippy::too_many_arguments)] // the log's fields, one for one
    fn new(
        max_records: usize,
        max_chars: usize,
        next_seq: u64,
        head: String,
        anchor_seq: u64,
        anchor_hash: String,
        entries: Vec<(String, String)>,
    ) -> NativeTrail {
        let entries: VecDeque<(String, String, usize)> = entries
            .into_iter()
            .map(|(hash, body)| {
                let chars = chars_of(&body);
                (hash, body, chars)
            })
            .collect();
        let chars = entries.iter().map(|(_, _, chars)| chars).sum();
        let trail = Trail { entries, chars, next_seq, head, anchor_seq, anchor_hash, max_records, max_chars };
        NativeTrail { state: Mutex::new(trail) }
    }

    /// Appends one record from the canonical JSON of its parts; returns its hash.
    #[pyo3(signature = (request_json, decision_json, approval_json, timestamp_micros = None))]
    fn append(
        &self,
        request_json: &str,
        decision_json: &str,
        approval_json: &str,
        timestamp_micros: Option<i64>,
    ) -> PyResult<String> {
        guarded(|| Ok(self.lock()?.push(request_json, decision_json, approval_json, timestamp_micros)))
    }

    /// `(entries, anchor_seq, anchor_hash, next_seq, head, chars)`, copied under the lock.
    fn snapshot(&self) -> PyResult<Snapshot> {
        guarded(|| {
            let trail = self.lock()?;
            Ok((
                trail.entries.iter().map(|(hash, body, _)| (hash.clone(), body.clone())).collect(),
                trail.anchor_seq,
                trail.anchor_hash.clone(),
                trail.next_seq,
                trail.head.clone(),
                trail.chars,
            ))
        })
    }

    /// `(retained records, anchor_seq, anchor_hash, next_seq, head, chars)` without the records.
    fn state(&self) -> PyResult<(usize, u64, String, u64, String, usize)> {
        guarded(|| {
            let trail = self.lock()?;
            Ok((
                trail.entries.len(),
                trail.anchor_seq,
                trail.anchor_hash.clone(),
                trail.next_seq,
                trail.head.clone(),
                trail.chars,
            ))
        })
    }

    /// Replaces or (with `body` None) removes a retained record: what an attacker with access to
    /// the process's memory could do, so that tests can show verification catches it.
    #[pyo3(signature = (index, hash, body = None))]
    fn _tamper_for_tests(&self, index: usize, hash: String, body: Option<String>) -> PyResult<()> {
        let mut trail = self.lock()?;
        if index >= trail.entries.len() {
            return Err(PyIndexError::new_err("no such record"));
        }
        match body {
            Some(body) => {
                let chars = chars_of(&body);
                trail.entries[index] = (hash, body, chars);
            }
            None => {
                trail.entries.remove(index);
            }
        }
        Ok(())
    }
}

/// Adds `NativeTrail` to `_native`.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NativeTrail>()
}
