//! Shared `agt_core.Decision` objects, keyed by the outcome that decides them.
//!
//! Without condition errors a decision is a function of its outcome's stage, deciding policy
//! and rule and the rules matched, so equal outcomes share one (immutable) Decision object, as
//! the Python evaluator shares them. Most requests end in a simple outcome (a policy's default
//! with nothing matched, or exactly one rule matched and deciding): those decisions sit in a
//! table indexed by (stage, policy, rule), found without a lock or a hash. Any other outcome
//! without errors is looked up by a key hashed from the outcome in place and compared element
//! by element: no lookup allocates.

use std::hash::Hasher;
use std::sync::Mutex;

use agt_engine::fast_hash::{FastHasher, FastMap};
use agt_engine::policy_set::Outcome;
use agt_engine::Stage;
use pyo3::prelude::*;
use pyo3::sync::GILOnceCell;

/// The decisions of simple outcomes, made on first use.
pub(crate) struct SimpleDecisions {
    /// Per policy: the index of its first rule's cell (its default's cell follows its rules).
    first: Vec<usize>,
    /// Cells per stage: every policy's rules and default.
    stride: usize,
    cells: Box<[GILOnceCell<Py<PyAny>>]>,
}

impl SimpleDecisions {
    /// A table for policies with these numbers of enabled rules.
    pub(crate) fn new(rule_counts: impl Iterator<Item = usize>) -> SimpleDecisions {
        let mut first = Vec::new();
        let mut stride = 0;
        for count in rule_counts {
            first.push(stride);
            stride += count + 1;
        }
        let cells = (0..stride * Stage::ALL.len()).map(|_| GILOnceCell::new()).collect();
        SimpleDecisions { first, stride, cells }
    }

    /// The cell of an outcome's decision, if the outcome is simple.
    pub(crate) fn cell(&self, outcome: &Outcome) -> Option<&GILOnceCell<Py<PyAny>>> {
        let Outcome::Decided { stage, policy, rule, errored: false, matched, errors } = outcome else {
            return None;
        };
        if !errors.is_empty() {
            return None;
        }
        let first = *self.first.get(*policy)?;
        let offset = match (rule, matched.as_slice()) {
            (None, []) => self.first.get(*policy + 1).map_or(self.stride, |next| *next) - 1,
            (Some(r), [((p, m), false)]) if p == policy && m == r => first + r,
            _ => return None,
        };
        self.cells.get(*stage as usize * self.stride + offset)
    }
}

/// Most shared decisions kept per policy set.
const MAX_ENTRIES: usize = 4096;

/// The part of an outcome a shared decision is a function of (None: the outcome has errors,
/// or is a refusal, and its decision is built each time).
pub(crate) struct ShareKey<'a> {
    head: [usize; 3],
    matched: &'a [((usize, usize), bool)],
}

impl<'a> ShareKey<'a> {
    pub(crate) fn of(outcome: &'a Outcome) -> Option<ShareKey<'a>> {
        match outcome {
            Outcome::Decided { stage, policy, rule, errored: false, matched, errors } if errors.is_empty() => {
                Some(ShareKey { head: [*stage as usize, *policy, rule.unwrap_or(usize::MAX)], matched })
            }
            _ => None,
        }
    }

    fn items(&self) -> impl Iterator<Item = usize> + '_ {
        self.head.iter().copied().chain(self.matched.iter().flat_map(|&((pi, ri), _)| [pi, ri]))
    }

    fn hash(&self) -> u64 {
        let mut hasher = FastHasher::default();
        for item in self.items() {
            hasher.write_usize(item);
        }
        hasher.finish()
    }
}

/// A shared decision and the full key it was made for.
type Entry = (Box<[usize]>, Py<PyAny>);

/// Decisions by key hash; each entry keeps its full key, so a hash collision is a miss.
#[derive(Default)]
pub(crate) struct DecisionCache {
    entries: Mutex<FastMap<u64, Entry>>,
}

impl DecisionCache {
    pub(crate) fn get(&self, py: Python<'_>, key: &ShareKey<'_>) -> Option<Py<PyAny>> {
        let entries = self.entries.lock().ok()?;
        let (stored, decision) = entries.get(&key.hash())?;
        stored.iter().copied().eq(key.items()).then(|| decision.clone_ref(py))
    }

    pub(crate) fn insert(&self, py: Python<'_>, key: &ShareKey<'_>, decision: &Py<PyAny>) {
        let entry = (key.items().collect(), decision.clone_ref(py));
        // Decisions leaving the cache are dropped after the lock is released: dropping one can
        // run Python code (a collection), which could evaluate with this set and take the lock.
        let (evicted, replaced) = match self.entries.lock() {
            Ok(mut entries) => {
                let evicted = (entries.len() >= MAX_ENTRIES).then(|| std::mem::take(&mut *entries));
                (evicted, entries.insert(key.hash(), entry))
            }
            Err(_) => (None, None),
        };
        drop((evicted, replaced));
    }
}
