//! `agt_evaluator._native`: the Python binding of the agt-engine crate.
//!
//! Thin on purpose: it converts Python requests into engine values, builds `agt_core.Decision`
//! objects from engine outcomes (sharing equal ones, as the Python evaluator does), and turns
//! engine errors into Python exceptions. Every entry point runs under `catch_unwind`: a panic
//! becomes `EnginePanic` (a `RuntimeError`), never pyo3's `PanicException`, and the kernel turns
//! it into an audited deny like any other evaluator failure.

use std::cell::OnceCell;
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};

use agt_engine::cel::VARIABLES;
use agt_engine::policy_set::Outcome;
use agt_engine::value::Map;
use agt_engine::{Activation, PolicyDocument, PolicySet, Resolved, ResolvedPolicy, Value};
use decision_cache::{DecisionCache, ShareKey, SimpleDecisions};
use pyo3::create_exception;
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

create_exception!(_native, EnginePanic, PyRuntimeError, "The native engine panicked; the call must fail closed.");
create_exception!(
    _native,
    CompileError,
    PyValueError,
    "A policy the engine refuses: args are (message, policy, path, line, column)."
);

/// FNV-1a: the memo and cache keys are a few short strings or integers, hashed once per lookup
/// inside one process; SipHash's flooding resistance buys nothing there and costs most of the time.
#[derive(Default)]
struct Fnv(u64);

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut hash = if self.0 == 0 { 0xcbf2_9ce4_8422_2325 } else { self.0 };
        for byte in bytes {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = hash;
    }
}

mod call_plan;
mod decision_cache;
mod hot_path;
mod rego;
mod trail;

type FastMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<Fnv>>;

/// Deepest request nesting converted; deeper data is refused (fail closed).
const MAX_DEPTH: usize = 256;

/// Runs `f`, turning a panic into `EnginePanic` with the panic's message.
fn guarded<T>(f: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => {
            let text = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            Err(EnginePanic::new_err(format!("the native policy engine panicked: {text}")))
        }
    }
}

/// Why a request could not be converted.
struct Refusal(String);

fn opaque_name(obj: &Bound<'_, PyAny>) -> String {
    let ty = obj.get_type();
    let module = ty.module().map(|m| m.to_string()).unwrap_or_default();
    let name = ty.qualname().map(|n| n.to_string()).unwrap_or_else(|_| "object".into());
    if module.is_empty() || module == "builtins" {
        name
    } else {
        format!("{module}.{name}")
    }
}

fn to_value(obj: &Bound<'_, PyAny>, depth: usize) -> Result<Value, Refusal> {
    if depth == 0 {
        return Err(Refusal("the request nests too deeply to evaluate".into()));
    }
    if let Ok(s) = obj.downcast_exact::<PyString>() {
        return match s.to_str() {
            Ok(text) => Ok(Value::str(text)),
            Err(_) => Err(Refusal("the request holds a string that is not valid Unicode (lone surrogate)".into())),
        };
    }
    if obj.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(b) = obj.downcast_exact::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if let Ok(i) = obj.downcast_exact::<PyInt>() {
        return match i.extract::<i64>() {
            Ok(v) => Ok(Value::Int(v)),
            Err(_) => Err(Refusal("the request holds an integer beyond the 64-bit range".into())),
        };
    }
    if let Ok(f) = obj.downcast_exact::<PyFloat>() {
        return Ok(Value::Double(f.value()));
    }
    if let Ok(list) = obj.downcast_exact::<PyList>() {
        let mut items = Vec::with_capacity(list.len());
        for item in list.iter() {
            items.push(to_value(&item, depth - 1)?);
        }
        return Ok(Value::List(Arc::new(items)));
    }
    if let Ok(dict) = obj.downcast_exact::<PyDict>() {
        return Ok(Value::Map(Arc::new(to_map(dict, depth)?)));
    }
    // Anything that is not JSON data is a value conditions cannot inspect, as in the Python
    // evaluator: every comparison, membership, macro or size on it is an error.
    let mut map = Map::with_capacity(1);
    map.insert("$opaque".into(), Value::str(&opaque_name(obj)));
    Ok(Value::Map(Arc::new(map)))
}

fn to_map(dict: &Bound<'_, PyDict>, depth: usize) -> Result<Map, Refusal> {
    let mut map = Map::with_capacity(dict.len());
    for (key, item) in dict.iter() {
        let Ok(key) = key.downcast_exact::<PyString>() else {
            return Err(Refusal(format!(
                "the request holds a map key that is a `{}`, not a string",
                opaque_name(&key)
            )));
        };
        let Ok(key) = key.to_str() else {
            return Err(Refusal("the request holds a map key that is not valid Unicode (lone surrogate)".into()));
        };
        map.insert(key.to_string(), to_value(&item, depth - 1)?);
    }
    Ok(map)
}

fn is_opaque_dict(dict: &Bound<'_, PyDict>) -> bool {
    let py = dict.py();
    dict.len() == 1
        && (dict.contains(intern!(py, "$opaque")).unwrap_or(false)
            || dict.contains(intern!(py, "$bytes")).unwrap_or(false))
}

/// Python strings for the keys policies read, made once per policy set: looking a path up with a
/// cached, interned key skips creating and hashing a new string for every segment of every path
/// of every evaluation (most of what reading a small request cost).
type KeyCache = Mutex<FastMap<Box<str>, Py<PyString>>>;
/// Most keys kept per policy set (paths come from the compiled conditions, so few are ever made).
const KEY_CACHE_MAX: usize = 4096;

fn cached_key<'py>(py: Python<'py>, cache: &KeyCache, name: &str) -> Bound<'py, PyString> {
    if let Ok(mut keys) = cache.lock() {
        if let Some(found) = keys.get(name) {
            return found.bind(py).clone();
        }
        let made = PyString::intern(py, name);
        if keys.len() >= KEY_CACHE_MAX {
            keys.clear();
        }
        keys.insert(name.into(), made.clone().unbind());
        return made;
    }
    PyString::new(py, name)
}

/// A value with the kind and type name of `obj` but not its contents: error messages name
/// only the kind of a value a path could not go through, so a large one is not converted.
fn shallow(obj: &Bound<'_, PyAny>) -> Value {
    if obj.is_exact_instance_of::<PyString>() {
        return Value::str("");
    }
    if obj.is_exact_instance_of::<PyList>() {
        return Value::List(Arc::new(Vec::new()));
    }
    if let Ok(dict) = obj.downcast_exact::<PyDict>() {
        let mut map = Map::new();
        if is_opaque_dict(dict) {
            // an opaque value is described by its one key, and by its text when that is a string
            for (key, item) in dict.iter() {
                let described = item.downcast_exact::<PyString>().ok().and_then(|s| s.to_str().ok().map(Value::str));
                map.insert(key.to_string(), described.unwrap_or(Value::Null));
            }
        }
        return Value::Map(Arc::new(map));
    }
    // a scalar, or a non-JSON object (its opaque stand-in); an int beyond 64 bits is still an int
    to_value(obj, 3).unwrap_or(Value::Int(0))
}

/// A Python request (a dict) read lazily: each path is walked on the Python objects and only the
/// value at its end is converted, so a request costs what the policies read of it. (The engine
/// reads each path at most once per evaluation.)
struct PyRequest<'py, 'k> {
    dict: Bound<'py, PyDict>,
    keys: &'k KeyCache,
    /// Per path the policy set numbered: its keys as Python strings, made once per set.
    path_keys: &'k [Box<[Py<PyString>]>],
    /// Per path the policy set numbered: the position of its variable in `VARIABLES`.
    path_roots: &'k [usize],
    /// Per variable: its value in the request, looked up once (many paths share a variable).
    roots: [OnceCell<Option<Step<'py>>>; VARIABLES.len()],
}

/// A value on the way down a path, and whether keys can be selected in it (a dict, not opaque).
#[derive(Clone)]
struct Step<'py> {
    value: Bound<'py, PyAny>,
    map: bool,
}

impl<'py> Step<'py> {
    fn new(value: Bound<'py, PyAny>) -> Step<'py> {
        let map = value.downcast_exact::<PyDict>().is_ok_and(|dict| !is_opaque_dict(dict));
        Step { value, map }
    }
}

impl<'py, 'k> PyRequest<'py, 'k> {
    fn new(dict: &Bound<'py, PyDict>, set: &'k NativePolicySet) -> PyRequest<'py, 'k> {
        PyRequest {
            dict: dict.clone(),
            keys: &set.keys,
            path_keys: &set.path_keys,
            path_roots: &set.path_roots,
            roots: [const { OnceCell::new() }; VARIABLES.len()],
        }
    }

    fn lookup(&self, key: &Bound<'py, PyString>) -> Option<Step<'py>> {
        self.dict.get_item(key).ok().flatten().map(Step::new)
    }

    /// The value of variable number `index` (named `key`), looked up on first use.
    fn root(&self, index: usize, key: &Bound<'py, PyString>) -> Option<Step<'py>> {
        let Some(cell) = self.roots.get(index) else {
            return self.lookup(key);
        };
        if cell.get().is_none() {
            // not `get_or_init`: a lookup may run Python code (a key's `__eq__`)
            let _ = cell.set(self.lookup(key));
        }
        cell.get().cloned().flatten()
    }

    /// Walks from the variable's value down the keys of the path; `key(i)` is its i-th key.
    fn walk<'a>(
        &self,
        root: Option<Step<'py>>,
        len: usize,
        key: impl Fn(usize) -> Option<&'a Bound<'py, PyString>>,
    ) -> Resolved
    where
        'py: 'a,
    {
        let Some(mut current) = root else {
            return Resolved::Unset;
        };
        for i in 1..len {
            let Some(name) = key(i) else {
                return Resolved::NoKey { depth: i };
            };
            let found = match current.value.downcast_exact::<PyDict>() {
                Ok(dict) if current.map => dict.get_item(name),
                _ => return Resolved::NotAMap { depth: i, found: shallow(&current.value) },
            };
            current = match found {
                Ok(Some(value)) if i + 1 < len => Step::new(value),
                // the end of the path: whether it is a map does not matter
                Ok(Some(value)) => Step { value, map: false },
                _ => return Resolved::NoKey { depth: i },
            };
        }
        match to_value(&current.value, MAX_DEPTH) {
            Ok(value) => Resolved::Found(value),
            Err(Refusal(reason)) => Resolved::Unreadable(reason),
        }
    }
}

impl Activation for PyRequest<'_, '_> {
    fn resolve(&self, path: &[Arc<str>]) -> Resolved {
        let py = self.dict.py();
        let keys: Vec<Bound<'_, PyString>> = path.iter().map(|k| cached_key(py, self.keys, k)).collect();
        let root = keys.first().and_then(|k| self.lookup(k));
        self.walk(root, keys.len(), |i| keys.get(i))
    }

    fn resolve_slot(&self, slot: usize, path: &[Arc<str>]) -> Resolved {
        let py = self.dict.py();
        match (self.path_keys.get(slot), self.path_roots.get(slot)) {
            (Some(keys), Some(&index)) if keys.len() == path.len() => {
                let root = keys.first().and_then(|k| self.root(index, k.bind(py)));
                self.walk(root, keys.len(), |i| keys.get(i).map(|k| k.bind(py)))
            }
            _ => self.resolve(path),
        }
    }
}

/// A compiled policy set, evaluated by the engine.
#[pyclass(frozen, module = "agt_evaluator._native")]
struct NativePolicySet {
    inner: PolicySet,
    /// `agt_core.Decision`, `MatchedRule`, `RuleError`.
    decision_cls: Py<PyAny>,
    rule_error_cls: Py<PyAny>,
    /// Per (policy, rule): the MatchedRule objects for a plain match and an errored one.
    matched: Vec<Vec<(Py<PyAny>, Py<PyAny>)>>,
    cache: DecisionCache,
    simple: SimpleDecisions,
    keys: KeyCache,
    /// Per path of `inner.paths()`: its keys as interned Python strings.
    path_keys: Vec<Box<[Py<PyString>]>>,
    /// Per path of `inner.paths()`: the position of its variable in `VARIABLES`.
    path_roots: Vec<usize>,
}

fn stage_str(stage: agt_engine::Stage) -> &'static str {
    stage.as_str()
}

impl NativePolicySet {
    fn build(&self, py: Python<'_>, outcome: &Outcome) -> PyResult<Py<PyAny>> {
        let decision = self.inner.decision(outcome);
        let kwargs = PyDict::new(py);
        kwargs.set_item("effect", decision.effect.as_str())?;
        kwargs.set_item("allowed", decision.allowed())?;
        kwargs.set_item("rule", decision.rule.as_deref())?;
        kwargs.set_item("policy", decision.policy.as_deref())?;
        kwargs.set_item("policy_hash", decision.policy_hash.as_deref())?;
        kwargs.set_item("policy_set_hash", decision.policy_set_hash.as_deref())?;
        kwargs.set_item("message", decision.message.as_str())?;
        kwargs.set_item("stage", stage_str(decision.stage))?;
        let matched: Vec<Py<PyAny>> = match outcome {
            Outcome::Decided { matched, .. } => matched
                .iter()
                .filter_map(|&((pi, ri), errored)| {
                    self.matched.get(pi).and_then(|rules| rules.get(ri)).map(|(plain, err)| {
                        if errored {
                            err.clone_ref(py)
                        } else {
                            plain.clone_ref(py)
                        }
                    })
                })
                .collect(),
            Outcome::Refused { .. } => Vec::new(),
        };
        kwargs.set_item("matched", PyTuple::new(py, matched)?)?;
        let mut errors = Vec::with_capacity(decision.errors.len());
        for e in &decision.errors {
            let item = PyDict::new(py);
            item.set_item("policy", e.policy.as_deref())?;
            item.set_item("rule", e.rule.as_deref())?;
            item.set_item("message", e.message.as_str())?;
            errors.push(self.rule_error_cls.call(py, (), Some(&item))?);
        }
        kwargs.set_item("errors", PyTuple::new(py, errors)?)?;
        kwargs.set_item("conflict_strategy", decision.conflict_strategy.map(|s| s.as_str()))?;
        kwargs.set_item("approvers", PyTuple::new(py, &decision.approvers)?)?;
        kwargs.set_item("evaluator", decision.evaluator)?;
        self.decision_cls.call(py, (), Some(&kwargs))
    }

    fn evaluate_inner(&self, py: Python<'_>, request: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let normalised;
        let request = if request.is_exact_instance_of::<PyDict>() {
            request
        } else {
            // an EvaluationRequest gives its data; another mapping is read as a plain dict
            let to_data = request.getattr("to_data").ok().filter(|f| f.is_callable());
            let mapping = py.import("collections.abc")?.getattr("Mapping")?;
            if let Some(to_data) = to_data {
                normalised = to_data.call0()?;
            } else if request.is_instance(&mapping)? {
                normalised = py.import("builtins")?.getattr("dict")?.call1((request,))?;
            } else {
                let reason = format!("request is a `{}`, not a mapping", request.get_type().name()?);
                return self.build(py, &Outcome::Refused { reason, stage: agt_engine::Stage::PreTool });
            }
            &normalised
        };
        let Ok(dict) = request.downcast::<PyDict>() else {
            let reason = format!("request is a `{}`, not a mapping", request.get_type().name()?);
            return self.build(py, &Outcome::Refused { reason, stage: agt_engine::Stage::PreTool });
        };
        let outcome = self.inner.outcome_of(&PyRequest::new(dict, self));
        self.decided(py, &outcome)
    }

    /// The `agt_core.Decision` of an outcome, shared with earlier equal ones when it has no errors.
    fn decided(&self, py: Python<'_>, outcome: &Outcome) -> PyResult<Py<PyAny>> {
        if let Some(cell) = self.simple.cell(outcome) {
            if let Some(found) = cell.get(py) {
                return Ok(found.clone_ref(py));
            }
            let decision = self.build(py, outcome)?;
            // built outside the cell: building runs Python code, which may switch threads
            let _ = cell.set(py, decision.clone_ref(py));
            return Ok(decision);
        }
        let key = ShareKey::of(outcome);
        if let Some(found) = key.as_ref().and_then(|key| self.cache.get(py, key)) {
            return Ok(found);
        }
        let decision = self.build(py, outcome)?;
        if let Some(key) = &key {
            self.cache.insert(py, key, &decision);
        }
        Ok(decision)
    }
}

#[pymethods]
impl NativePolicySet {
    /// Compiles resolved policies: one `(document_json, sealed_rules, content_hash, warnings)`
    /// tuple per policy, in load order.
    #[new]
    fn new(py: Python<'_>, policies: Vec<(String, Vec<String>, String, Vec<String>)>) -> PyResult<NativePolicySet> {
        guarded(|| {
            let mut resolved = Vec::with_capacity(policies.len());
            for (text, sealed_rules, content_hash, warnings) in policies {
                let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
                    CompileError::new_err((
                        format!("invalid policy JSON: {e}"),
                        None::<String>,
                        None::<String>,
                        None::<usize>,
                        None::<usize>,
                    ))
                })?;
                let document = PolicyDocument::from_json(&json).map_err(compile_error)?;
                let computed = agt_engine::canonical::content_hash(&document.to_json()).map_err(|e| {
                    CompileError::new_err((
                        e.0,
                        Some(document.name.clone()),
                        None::<String>,
                        None::<usize>,
                        None::<usize>,
                    ))
                })?;
                if !content_hash.is_empty() && content_hash != computed {
                    return Err(CompileError::new_err((
                        format!(
                            "policy `{}` has content_hash `{content_hash}`, but its document hashes to `{computed}`",
                            document.name
                        ),
                        Some(document.name.clone()),
                        None::<String>,
                        None::<usize>,
                        None::<usize>,
                    )));
                }
                resolved.push(ResolvedPolicy { document, sealed_rules, content_hash: Some(computed), warnings });
            }
            let inner = PolicySet::compile(&resolved).map_err(compile_error)?;
            let path_keys = inner
                .paths()
                .iter()
                .map(|path| path.iter().map(|key| PyString::intern(py, key).unbind()).collect())
                .collect();
            let path_roots = inner
                .paths()
                .iter()
                .map(|path| {
                    path.first().and_then(|root| VARIABLES.iter().position(|v| **v == **root)).unwrap_or(usize::MAX)
                })
                .collect();
            let core = py.import("agt_core")?;
            let matched_cls = core.getattr("MatchedRule")?;
            let mut matched = Vec::new();
            for policy in &resolved {
                let mut rules = Vec::new();
                for rule in policy.document.rules.iter().filter(|r| r.enabled) {
                    let make = |errored: bool| -> PyResult<Py<PyAny>> {
                        let kwargs = PyDict::new(py);
                        kwargs.set_item("policy", policy.document.name.as_str())?;
                        kwargs.set_item("rule", rule.name.as_str())?;
                        kwargs.set_item("action", rule.action.as_str())?;
                        kwargs.set_item("priority", rule.priority)?;
                        kwargs.set_item("errored", errored)?;
                        Ok(matched_cls.call((), Some(&kwargs))?.unbind())
                    };
                    rules.push((make(false)?, make(true)?));
                }
                matched.push(rules);
            }
            let simple = SimpleDecisions::new(matched.iter().map(Vec::len));
            Ok(NativePolicySet {
                inner,
                decision_cls: core.getattr("Decision")?.unbind(),
                rule_error_cls: core.getattr("RuleError")?.unbind(),
                matched,
                cache: DecisionCache::default(),
                simple,
                keys: Mutex::new(FastMap::default()),
                path_keys,
                path_roots,
            })
        })
    }

    /// Decides one request (a dict shaped like `EvaluationRequest`); returns an `agt_core.Decision`.
    fn evaluate(&self, py: Python<'_>, request: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        guarded(|| self.evaluate_inner(py, request))
    }

    /// Converts and evaluates without building a Decision: `(effect, rule)` (for measurements).
    fn evaluate_effect(&self, request: &Bound<'_, PyAny>) -> PyResult<(&'static str, Option<String>)> {
        guarded(|| {
            let Ok(dict) = request.downcast::<PyDict>() else {
                return Ok(("deny", None));
            };
            let outcome = self.inner.outcome_of(&PyRequest::new(dict, self));
            let decision = self.inner.decision(&outcome);
            Ok((decision.effect.as_str(), decision.rule))
        })
    }

    /// Converts a request into engine values and drops it (measures the conversion alone).
    fn convert_only(&self, request: &Bound<'_, PyAny>) -> PyResult<bool> {
        guarded(|| match request.downcast::<PyDict>() {
            Ok(dict) => Ok(to_map(dict, MAX_DEPTH).is_ok()),
            Err(_) => Ok(false),
        })
    }

    #[getter]
    fn hash(&self) -> &str {
        self.inner.hash()
    }

    #[getter]
    fn policy_names(&self) -> Vec<&str> {
        self.inner.policy_names()
    }

    #[getter]
    fn policy_hashes(&self) -> Vec<(&str, &str)> {
        self.inner.policy_hashes()
    }

    #[getter]
    fn stages(&self) -> Vec<&'static str> {
        self.inner.stages().into_iter().map(stage_str).collect()
    }

    #[getter]
    fn limits(&self) -> Vec<(&str, &str, &str)> {
        self.inner.limits()
    }

    #[getter]
    fn warnings(&self) -> Vec<String> {
        self.inner.warnings().to_vec()
    }
}

fn compile_error(e: agt_engine::PolicyError) -> PyErr {
    let (line, column) = e.position.map_or((None, None), |(l, c)| (Some(l), Some(c)));
    CompileError::new_err((e.message, e.policy, e.path, line, column))
}

/// `sha256:<hex>` of the RFC 8785 canonical form of a JSON text.
#[pyfunction]
fn content_hash(text: &str) -> PyResult<String> {
    guarded(|| {
        let json: serde_json::Value =
            serde_json::from_str(text).map_err(|e| PyValueError::new_err(format!("invalid JSON: {e}")))?;
        agt_engine::canonical::content_hash(&json).map_err(|e| PyValueError::new_err(e.0))
    })
}

/// Panics inside the guard: lets tests prove a panic never crosses into Python as one.
#[pyfunction]
#[allow(clippy::panic)] // the one deliberate panic: the test hook for the guard
fn _panic_for_tests(message: &str) -> PyResult<()> {
    guarded(|| -> PyResult<()> { std::panic::panic_any(message.to_string()) })
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NativePolicySet>()?;
    m.add_class::<rego::RegoEngine>()?;
    m.add("EnginePanic", m.py().get_type::<EnginePanic>())?;
    m.add("CompileError", m.py().get_type::<CompileError>())?;
    m.add_function(wrap_pyfunction!(content_hash, m)?)?;
    m.add_function(wrap_pyfunction!(_panic_for_tests, m)?)?;
    hot_path::register(m)?;
    call_plan::register(m)?;
    trail::register(m)?;
    m.add("ENGINE_VERSION", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
