//! A governed call decided and recorded in one crossing into Rust.
//!
//! agent-os's `govern()` builds a request from the call's arguments, evaluates it and appends
//! its audit record: in Python that is a dozen steps of glue around two native calls. For the
//! common call (keyword arguments that are short ASCII strings, safe integers, booleans or
//! `None`, no enrichers, guards, observers, rate limits or redaction), a `CallPlan` does all of
//! it here: it reads the keyword arguments, checks them against the same limits and declared
//! types as agent-os's request builder, writes the request's canonical JSON exactly as the
//! builder writes it, evaluates the request through the policy set, and appends the audit
//! record to the log's `NativeTrail` (`trail.rs`). Anything it does not cover exactly, it
//! declines (returns `None`) before it has done anything observable, and agent-os takes its
//! general path. `tests/test_call_plan.py` holds the two paths to the same decisions and the
//! same audit bytes.

use std::sync::{Arc, Mutex};

use agt_engine::canonical::write_json_string;
use agt_engine::policy_set::Outcome;
use agt_engine::value::Map;
use agt_engine::{Activation, Resolved, Value};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyInt, PyString, PyType};

use crate::trail::NativeTrail;
use crate::{guarded, to_value, NativePolicySet, MAX_DEPTH};

/// JSON's largest exactly representable integer: larger ones take the general path.
const MAX_SAFE_INTEGER: i64 = 9_007_199_254_740_991;

/// A parameter as agent-os describes it: `(name, default, has_default, exact types)`.
type ParamSpec = (String, Py<PyAny>, bool, Vec<Py<PyType>>);

/// One parameter of the governed function, in code point order of the names.
struct Param {
    /// The parameter's name.
    text: String,
    /// `"name":`, the key as it is written in the request's canonical JSON.
    json_key: String,
    /// The default the call gets when the argument is not passed.
    default: Option<Py<PyAny>>,
    /// Exact types the argument must have (from the annotation), or empty for any.
    allowed: Vec<Py<PyType>>,
}

/// What the plan read from one call: the argument values in the order Python's bound
/// dictionary holds them (defaults first, in signature order, then the keywords as passed).
struct BoundCall {
    values: Vec<(usize, Value)>,
    json: String,
    action_type: String,
}

/// A decision the plan has seen: the shared `agt_core.Decision`, whether it asks for an
/// approval, and its canonical JSON.
type Known = (Py<PyAny>, bool, Py<PyString>);

/// A call the plan decided: its decision, what it read, and the decision's canonical JSON.
type Decided = (Py<PyAny>, BoundCall, Py<PyString>);

/// The request of one call, resolved path by path for the engine.
struct CallRequest<'a> {
    plan: &'a CallPlan,
    bound: &'a BoundCall,
}

/// The value at `rest` below a scalar found at `depth`: a scalar has no keys. Strings are
/// described without their text, as the Python binding describes them.
fn below_scalar(value: &Value, rest: &[Arc<str>], depth: usize) -> Resolved {
    if rest.is_empty() {
        return Resolved::Found(value.clone());
    }
    let found = match value {
        Value::Str(_) => Value::str(""),
        other => other.clone(),
    };
    Resolved::NotAMap { depth, found }
}

impl Activation for CallRequest<'_> {
    fn resolve(&self, path: &[Arc<str>]) -> Resolved {
        let Some((root, rest)) = path.split_first() else {
            return Resolved::Unset;
        };
        match &**root {
            "args" => match rest.split_first() {
                None => {
                    let mut map = Map::with_capacity(self.bound.values.len());
                    for (i, value) in &self.bound.values {
                        map.insert(self.plan.params[*i].text.clone(), value.clone());
                    }
                    Resolved::Found(Value::Map(Arc::new(map)))
                }
                Some((key, deeper)) => {
                    match self.bound.values.iter().find(|(i, _)| self.plan.params[*i].text == **key) {
                        Some((_, value)) => below_scalar(value, deeper, 2),
                        None => Resolved::NoKey { depth: 1 },
                    }
                }
            },
            "action" => match rest.split_first() {
                None => {
                    // the builder's dict: `type` first, then `tool`
                    let mut map = Map::with_capacity(2);
                    map.insert("type".into(), Value::str(&self.bound.action_type));
                    map.insert("tool".into(), self.plan.tool.clone());
                    Resolved::Found(Value::Map(Arc::new(map)))
                }
                Some((key, deeper)) => match &**key {
                    "type" => below_scalar(&Value::str(&self.bound.action_type), deeper, 2),
                    "tool" => below_scalar(&self.plan.tool, deeper, 2),
                    _ => Resolved::NoKey { depth: 1 },
                },
            },
            "agent" | "context" => self.plan.fixed.resolve(path),
            "stage" => below_scalar(&Value::str("pre_tool"), rest, 1),
            _ => Resolved::Unset,
        }
    }
}

/// Python's `str.strip()` on ASCII text: its whitespace includes the four separators 0x1c-0x1f.
fn py_strip_ascii(text: &str) -> &str {
    text.trim_matches(|c: char| matches!(c, '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | '\u{1c}'..='\u{1f}' | ' '))
}

/// A governed function's calls, decided (and recorded) natively; see the module docs.
#[pyclass(frozen, module = "agt_evaluator._native")]
pub(crate) struct CallPlan {
    set: Py<NativePolicySet>,
    tool: Value,
    params: Vec<Param>,
    /// Positions (in `params`) of the parameters with defaults, in signature order.
    defaulted: Vec<usize>,
    /// Position of the parameter named `action`, which names the action type.
    action: Option<usize>,
    /// `{"agent": ..., "context": ...}`: the fixed parts, converted once.
    fixed: Map,
    /// `{"action":{"tool":<tool>,"type":` and the canonical JSON after the args.
    action_prefix: String,
    agent_json: String,
    context_json: String,
    max_items: usize,
    max_string_length: usize,
    max_total_chars: usize,
    names_chars: usize,
    /// The audit log's state, when the log was moved into native memory (`AuditLog`'s adoption).
    trail: Option<Py<NativeTrail>>,
    /// The last decision, whether it asks for an approval, and its canonical JSON: most calls of
    /// one tool get the same (shared) decision object.
    last: Mutex<Option<Known>>,
}

impl CallPlan {
    /// Reads the call's keyword arguments, or None when any needs the general path.
    fn bind(&self, py: Python<'_>, kwargs: &Bound<'_, PyDict>) -> PyResult<Option<BoundCall>> {
        let n = self.params.len();
        let mut given: Vec<Option<Bound<'_, PyAny>>> = vec![None; n];
        let mut order: Vec<usize> = Vec::with_capacity(n);
        order.extend_from_slice(&self.defaulted);
        for (key, value) in kwargs.iter() {
            let Ok(key) = key.downcast_exact::<PyString>() else {
                return Ok(None);
            };
            let name = key.to_str()?;
            let Some(i) = self.params.iter().position(|p| p.text == name) else {
                return Ok(None); // not a parameter: the general path raises the call's TypeError
            };
            if !order.contains(&i) {
                order.push(i);
            }
            given[i] = Some(value);
        }
        if order.len() != n || n >= self.max_items {
            return Ok(None); // an argument is missing (TypeError) or there are too many
        }
        let mut values = Vec::with_capacity(n);
        let mut chars = self.names_chars;
        let mut converted: Vec<Option<Value>> = vec![None; n];
        for (i, param) in self.params.iter().enumerate() {
            let value = match (&given[i], &param.default) {
                (Some(value), _) => value.clone(),
                (None, Some(default)) => default.bind(py).clone(),
                (None, None) => return Ok(None),
            };
            if !param.allowed.is_empty() && !param.allowed.iter().any(|t| value.get_type().is(t)) {
                return Ok(None); // the general path names the wrong type
            }
            let value = if let Ok(text) = value.downcast_exact::<PyString>() {
                let Ok(text) = text.to_str() else { return Ok(None) };
                if !text.is_ascii() || text.len() > self.max_string_length {
                    return Ok(None);
                }
                chars += text.len();
                Value::str(text)
            } else if let Ok(flag) = value.downcast_exact::<PyBool>() {
                Value::Bool(flag.is_true())
            } else if let Ok(int) = value.downcast_exact::<PyInt>() {
                match int.extract::<i64>() {
                    Ok(v) if (-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).contains(&v) => Value::Int(v),
                    _ => return Ok(None),
                }
            } else if value.is_none() {
                Value::Null
            } else {
                return Ok(None);
            };
            converted[i] = Some(value);
        }
        if chars > self.max_total_chars {
            return Ok(None);
        }
        // the args' canonical JSON: names in code point order (they are ASCII), as the builder writes it
        let mut json = String::with_capacity(chars + 24 * n + 2); // names, texts, quotes, numbers
        json.push('{');
        for (i, param) in self.params.iter().enumerate() {
            if i > 0 {
                json.push(',');
            }
            json.push_str(&param.json_key);
            match &converted[i] {
                Some(Value::Str(s)) => write_json_string(s, &mut json),
                Some(Value::Int(v)) => json.push_str(&v.to_string()),
                Some(Value::Bool(true)) => json.push_str("true"),
                Some(Value::Bool(false)) => json.push_str("false"),
                _ => json.push_str("null"),
            }
        }
        json.push('}');
        let action_type = match self.action.map(|i| &converted[i]) {
            None | Some(Some(Value::Null)) => match &self.tool {
                Value::Str(tool) => tool.to_string(),
                _ => return Ok(None),
            },
            Some(Some(Value::Str(given))) => py_strip_ascii(&given.to_ascii_lowercase()).to_string(),
            Some(_) => return Ok(None), // an action that is not text: the general path refuses it
        };
        for i in order {
            if let Some(value) = converted[i].take() {
                values.push((i, value));
            }
        }
        Ok(Some(BoundCall { values, json, action_type }))
    }

    /// The request's canonical JSON, keys in RFC 8785 order: action, agent, args, context, stage.
    fn request_json(&self, bound: &BoundCall) -> String {
        let mut out = String::with_capacity(
            self.action_prefix.len()
                + bound.action_type.len()
                + self.agent_json.len()
                + bound.json.len()
                + self.context_json.len()
                + 64,
        );
        out.push_str(&self.action_prefix);
        write_json_string(&bound.action_type, &mut out);
        out.push_str("},\"agent\":");
        out.push_str(&self.agent_json);
        out.push_str(",\"args\":");
        out.push_str(&bound.json);
        out.push_str(",\"context\":");
        out.push_str(&self.context_json);
        out.push_str(",\"stage\":\"pre_tool\"}");
        out
    }

    /// Decides a call, or None to decline. A decision that asks for an
    /// approval is declined too (the general path asks the handler and records the answer).
    fn decide_bound(&self, py: Python<'_>, kwargs: &Bound<'_, PyDict>) -> PyResult<Option<Decided>> {
        let Some(bound) = self.bind(py, kwargs)? else {
            return Ok(None);
        };
        let set = self.set.get();
        let outcome = set.inner.outcome_of(&CallRequest { plan: self, bound: &bound });
        if matches!(outcome, Outcome::Refused { .. }) {
            return Ok(None);
        }
        let decision = set.decided(py, &outcome)?;
        let (asks_approval, json) = self.facts_of(py, &decision)?;
        if asks_approval {
            return Ok(None);
        }
        Ok(Some((decision, bound, json)))
    }

    /// Whether a decision asks for an approval, and its canonical JSON (`Decision.canonical_json()`).
    fn facts_of(&self, py: Python<'_>, decision: &Py<PyAny>) -> PyResult<(bool, Py<PyString>)> {
        if let Ok(last) = self.last.lock() {
            if let Some((cached, asks_approval, json)) = last.as_ref() {
                if cached.is(decision) {
                    return Ok((*asks_approval, json.clone_ref(py)));
                }
            }
        }
        let bound = decision.bind(py);
        let asks_approval =
            bound.getattr(intern!(py, "effect"))?.downcast::<PyString>()?.to_str()? == "require_approval";
        let json = bound.call_method0(intern!(py, "canonical_json"))?.downcast_into::<PyString>()?.unbind();
        if let Ok(mut last) = self.last.lock() {
            *last = Some((decision.clone_ref(py), asks_approval, json.clone_ref(py)));
        }
        Ok((asks_approval, json))
    }
}

#[pymethods]
impl CallPlan {
    /// A plan for one governed function.
    ///
    /// Args: the policy set; the tool's name; per parameter `(name, default or None, has_default,
    /// exact types or ())`; the request's fixed `agent` and `context` (JSON data) and their
    /// canonical JSON; the request limits `(max_items, max_string_length, max_total_chars)`.
    #[new]
    #[pyo3(signature = (policy_set, tool, params, agent, context, agent_json, context_json, limits, trail = None))]
    #[allow(clippy::too_many_arguments)] // mirrors agent-os's request builder, field for field
    fn new(
        py: Python<'_>,
        policy_set: Py<NativePolicySet>,
        tool: &str,
        params: Vec<ParamSpec>,
        agent: &Bound<'_, PyDict>,
        context: &Bound<'_, PyDict>,
        agent_json: String,
        context_json: String,
        limits: (usize, usize, usize),
        trail: Option<Py<NativeTrail>>,
    ) -> PyResult<CallPlan> {
        guarded(|| {
            let mut positions: Vec<usize> = (0..params.len()).collect();
            positions.sort_by(|&a, &b| params[a].0.cmp(&params[b].0));
            if params.iter().any(|(name, ..)| !name.is_ascii()) {
                return Err(pyo3::exceptions::PyValueError::new_err("parameter names must be ASCII"));
            }
            // `defaulted` is in signature order; `params` is kept in name order
            let defaulted = (0..params.len())
                .filter(|&i| params[i].2)
                .filter_map(|i| positions.iter().position(|&p| p == i))
                .collect();
            let sorted: Vec<Param> = positions
                .iter()
                .map(|&i| {
                    let (name, default, has_default, allowed) = &params[i];
                    let mut json_key = String::with_capacity(name.len() + 3);
                    write_json_string(name, &mut json_key);
                    json_key.push(':');
                    Param {
                        text: name.clone(),
                        json_key,
                        default: has_default.then(|| default.clone_ref(py)),
                        allowed: allowed.iter().map(|t| t.clone_ref(py)).collect(),
                    }
                })
                .collect();
            let fixed_part = |d: &Bound<'_, PyDict>| {
                to_value(d.as_any(), MAX_DEPTH).map_err(|r| pyo3::exceptions::PyValueError::new_err(r.0))
            };
            let mut fixed = Map::with_capacity(2);
            fixed.insert("agent".into(), fixed_part(agent)?);
            fixed.insert("context".into(), fixed_part(context)?);
            let mut action_prefix = String::from("{\"action\":{\"tool\":");
            write_json_string(tool, &mut action_prefix);
            action_prefix.push_str(",\"type\":");
            let action = sorted.iter().position(|p| p.text == "action");
            let names_chars = sorted.iter().map(|p| p.text.len()).sum();
            Ok(CallPlan {
                set: policy_set,
                tool: Value::str(tool),
                params: sorted,
                defaulted,
                action,
                fixed,
                action_prefix,
                agent_json,
                context_json,
                max_items: limits.0,
                max_string_length: limits.1,
                max_total_chars: limits.2,
                names_chars,
                trail,
                last: Mutex::new(None),
            })
        })
    }

    /// Decides one call given its keyword arguments: the `agt_core.Decision`, or None when the
    /// call needs the general path (nothing has been recorded then).
    fn decide(&self, py: Python<'_>, kwargs: &Bound<'_, PyDict>) -> PyResult<Option<Py<PyAny>>> {
        guarded(|| Ok(self.decide_bound(py, kwargs)?.map(|(decision, ..)| decision)))
    }

    /// Decides one call and appends its audit record to the plan's native trail, in one
    /// crossing: the `Decision`, or None when the call needs the general path (nothing has been
    /// recorded then). Only for a plan made with a trail.
    fn decide_and_append(&self, py: Python<'_>, kwargs: &Bound<'_, PyDict>) -> PyResult<Option<Py<PyAny>>> {
        guarded(|| {
            let Some(trail) = &self.trail else {
                return Err(pyo3::exceptions::PyValueError::new_err("this plan was made without a trail"));
            };
            let Some((decision, bound, decision_json)) = self.decide_bound(py, kwargs)? else {
                return Ok(None);
            };
            let request_json = self.request_json(&bound);
            let decision_json = decision_json.bind(py).to_str()?;
            // no Python object is made or dropped while the trail is locked
            trail.get().lock()?.push(&request_json, decision_json, "null", None);
            Ok(Some(decision))
        })
    }
}

/// Adds `CallPlan` to `_native`.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<CallPlan>()
}
