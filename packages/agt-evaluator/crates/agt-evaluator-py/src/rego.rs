//! `RegoEngine`: Rego policies on regorus (the `agt-rego` crate), for agent-os's Rego backend.
//!
//! Values cross as JSON text both ways: the request arrives as the JSON agent-os already
//! checked, and rule values leave as JSON for agent-os to check against its decision contract.
//! The GIL is released while regorus evaluates; a mutex serialises evaluations of one policy.

use std::sync::Mutex;
use std::time::Duration;

use agt_rego::{RegoError, RegoPolicy};
use pyo3::exceptions::{PyRuntimeError, PyTimeoutError, PyValueError};
use pyo3::prelude::*;

use crate::guarded;

fn runtime(err: RegoError) -> PyErr {
    if err.timed_out {
        PyTimeoutError::new_err(err.message)
    } else {
        PyRuntimeError::new_err(err.message)
    }
}

/// One compiled Rego policy (modules plus data documents), evaluated under a time limit.
#[pyclass(module = "agt_evaluator._native", frozen)]
pub struct RegoEngine {
    policy: Mutex<RegoPolicy>,
    packages: Vec<String>,
}

#[pymethods]
impl RegoEngine {
    /// Compile `modules` ((path, text) pairs) with the `data` JSON documents merged in order.
    ///
    /// Raises ValueError with the engine's message (file:line:column) when they do not compile.
    #[new]
    fn new(py: Python<'_>, modules: Vec<(String, String)>, data: Vec<String>, time_limit_ms: u64) -> PyResult<Self> {
        guarded(|| {
            let policy = py
                .allow_threads(|| RegoPolicy::compile(&modules, &data, Duration::from_millis(time_limit_ms)))
                .map_err(|e| PyValueError::new_err(e.message))?;
            let packages = policy.packages().to_vec();
            Ok(RegoEngine { policy: Mutex::new(policy), packages })
        })
    }

    /// The modules' packages as regorus names them (`data.<package>`).
    fn packages(&self) -> Vec<String> {
        self.packages.clone()
    }

    /// Whether the module at `path` declares a rule at `rule` (e.g. `data.agt.decision`).
    fn declares(&self, path: &str, rule: &str) -> PyResult<bool> {
        guarded(|| {
            let policy = self.policy.lock().map_err(|_| poisoned())?;
            policy.declares(path, rule).map_err(|e| PyValueError::new_err(e.message))
        })
    }

    /// Each rule's value as JSON text (None when undefined) with `input_json` as `input`.
    ///
    /// Raises TimeoutError past the time limit, RuntimeError for any other evaluation error.
    fn evaluate(&self, py: Python<'_>, input_json: &str, rules: Vec<String>) -> PyResult<Vec<Option<String>>> {
        guarded(|| {
            py.allow_threads(|| {
                let mut policy = self.policy.lock().map_err(|_| poisoned())?;
                policy.evaluate(input_json, &rules).map_err(runtime)
            })
        })
    }
}

fn poisoned() -> PyErr {
    PyRuntimeError::new_err("the Rego engine stopped after an earlier panic; recompile the policy")
}
