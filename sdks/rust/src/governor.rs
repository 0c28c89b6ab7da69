//! The governed call: request built from the judged arguments, policy, rate limits, approval,
//! audit, and only then the tool.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use agt_engine::canonical::{canonical_json, content_hash};
use agt_engine::interchange::decision_to_json;
use agt_engine::{Action, RateLimiter, Value};
use serde_json::{json, Map, Value as Json};

use crate::approval::{Approval, ApprovalHandler, ApprovalRequest};
use crate::audit::AuditTrail;
use crate::policy::{Policy, MAX_REQUEST_DEPTH};
use crate::{Decision, GovernError};

type Clock = Arc<dyn Fn() -> f64 + Send + Sync>;

struct Inner {
    policy: Policy,
    limiter: Mutex<RateLimiter>,
    audit: AuditTrail,
    approval: Option<Arc<dyn ApprovalHandler>>,
    approval_timeout: Option<Duration>,
    clock: Clock,
    agent: Map<String, Json>,
    context: Map<String, Json>,
}

/// How long an approval handler may take before the call is refused (as agent-os's default).
pub const DEFAULT_APPROVAL_TIMEOUT: Duration = Duration::from_secs(300);

/// Governs calls under one policy set: shared rate limits and one audit trail. Cheap to clone.
#[derive(Clone)]
pub struct Governor {
    inner: Arc<Inner>,
}

/// Configures a `Governor`.
pub struct GovernorBuilder {
    policy: Policy,
    audit: Option<AuditTrail>,
    approval: Option<Arc<dyn ApprovalHandler>>,
    approval_timeout: Option<Duration>,
    clock: Option<Clock>,
    agent: Map<String, Json>,
    context: Map<String, Json>,
}

impl GovernorBuilder {
    /// The acting agent's id (`agent.id` in conditions; default `"default"`).
    pub fn agent_id(mut self, id: impl Into<String>) -> GovernorBuilder {
        self.agent.insert("id".into(), Json::String(id.into()));
        self
    }

    /// A fact about the agent (`agent.<key>` in conditions).
    pub fn agent_attribute(mut self, key: impl Into<String>, value: Json) -> GovernorBuilder {
        let key = key.into();
        if key != "id" {
            self.agent.insert(key, value);
        }
        self
    }

    /// A fact about the call's context (`context.<key>` in conditions).
    pub fn context(mut self, key: impl Into<String>, value: Json) -> GovernorBuilder {
        self.context.insert(key.into(), value);
        self
    }

    /// Decides require_approval calls; without one they are refused.
    pub fn approval_handler(mut self, handler: impl ApprovalHandler + 'static) -> GovernorBuilder {
        self.approval = Some(Arc::new(handler));
        self
    }

    /// How long the approval handler may take (default 300 s); `None` waits forever. A handler
    /// that gives no answer in time refuses the call (it keeps running on its own thread).
    pub fn approval_timeout(mut self, timeout: Option<Duration>) -> GovernorBuilder {
        self.approval_timeout = timeout;
        self
    }

    /// Writes to this trail (share one trail between governors); default: a new one.
    pub fn audit(mut self, trail: AuditTrail) -> GovernorBuilder {
        self.audit = Some(trail);
        self
    }

    /// The monotonic clock rate limits count with, in seconds (default: time since the governor
    /// was built). Tests pass a fake one.
    pub fn clock(mut self, clock: impl Fn() -> f64 + Send + Sync + 'static) -> GovernorBuilder {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// The governor.
    pub fn build(self) -> Governor {
        let start = Instant::now();
        Governor {
            inner: Arc::new(Inner {
                policy: self.policy,
                limiter: Mutex::new(RateLimiter::new()),
                audit: self.audit.unwrap_or_default(),
                approval: self.approval,
                approval_timeout: self.approval_timeout,
                clock: self.clock.unwrap_or_else(|| Arc::new(move || start.elapsed().as_secs_f64())),
                agent: self.agent,
                context: self.context,
            }),
        }
    }
}

/// What `Governor::check` concluded for a call that may run.
#[derive(Debug)]
pub struct Permit {
    /// The decision (allow, warn, log, or require_approval that was approved).
    pub decision: Decision,
    /// The approval, when one was needed.
    pub approval: Option<Approval>,
    /// The hash of the audit record written for the call.
    pub record_hash: String,
}

/// `action.type`: `args.action` when it is a string (trimmed, lower case), else the tool name.
fn action_type(tool: &str, args: &Map<String, Json>) -> String {
    match args.get("action") {
        Some(Json::String(action)) => action.trim().to_lowercase(),
        _ => tool.to_string(),
    }
}

impl Governor {
    /// A governor with the defaults: agent `default`, no approval handler, a new audit trail.
    pub fn new(policy: Policy) -> Governor {
        Governor::builder(policy).build()
    }

    /// Starts configuring a governor.
    pub fn builder(policy: Policy) -> GovernorBuilder {
        let mut agent = Map::new();
        agent.insert("id".into(), Json::String("default".into()));
        GovernorBuilder {
            policy,
            audit: None,
            approval: None,
            approval_timeout: Some(DEFAULT_APPROVAL_TIMEOUT),
            clock: None,
            agent,
            context: Map::new(),
        }
    }

    /// The policy set.
    pub fn policy(&self) -> &Policy {
        &self.inner.policy
    }

    /// The audit trail every call is written to.
    pub fn audit(&self) -> &AuditTrail {
        &self.inner.audit
    }

    /// Wraps a closure: each call is judged on exactly the arguments the closure then receives.
    pub fn govern<F, T, E>(&self, tool: impl Into<String>, f: F) -> Governed<F>
    where
        F: Fn(&Json) -> Result<T, E>,
    {
        Governed { governor: self.clone(), tool: tool.into(), agent: None, f }
    }

    /// Wraps an async closure (feature `async`): the check runs before the future is created.
    #[cfg(feature = "async")]
    pub fn govern_async<F, Fut, T, E>(&self, tool: impl Into<String>, f: F) -> GovernedAsync<F>
    where
        F: Fn(Json) -> Fut,
        Fut: std::future::Future<Output = Result<T, E>>,
    {
        GovernedAsync { governor: self.clone(), tool: tool.into(), f }
    }

    /// The request a policy sees for a call of `tool` with `args` by `agent` (None: the
    /// governor's agent).
    pub fn request(&self, tool: &str, args: &Map<String, Json>, agent: Option<&str>) -> Json {
        let mut agent_facts = self.inner.agent.clone();
        if let Some(id) = agent {
            agent_facts.insert("id".into(), Json::String(id.into()));
        }
        json!({
            "action": {"type": action_type(tool, args), "tool": tool},
            "args": args,
            "agent": agent_facts,
            "context": self.inner.context,
            "stage": "pre_tool",
        })
    }

    /// Policy and rate limits for one request given as JSON data (no approval, no audit): what the
    /// conformance vectors check, and what `check` starts from.
    pub fn decide_request(&self, request: &Json) -> Result<Decision, String> {
        let value = Value::from_json(request, MAX_REQUEST_DEPTH)?;
        let set = self.inner.policy.set();
        let decision = set.evaluate(&value);
        let agent = request.get("agent").and_then(|a| a.get("id")).and_then(Json::as_str);
        match agent {
            Some(agent) if decision.effect != Action::Deny => {
                let now = (self.inner.clock)();
                let mut limiter =
                    self.inner.limiter.lock().map_err(|_| "rate-limit state was poisoned by a panic".to_string())?;
                Ok(limiter.apply(set, decision, agent, now))
            }
            _ => Ok(decision),
        }
    }

    /// Writes a refusal that no policy decided (the request could not be judged).
    fn refuse_request<E>(&self, request: &Json, message: String) -> GovernError<E> {
        let decision = json!({
            "effect": "deny", "allowed": false, "rule": null, "policy": null, "message": message,
            "stage": "pre_tool", "matched": [], "errors": [{"policy": null, "rule": null, "message": message}],
            "refused_by": "kernel:request", "evaluator": null,
        });
        // a request with no canonical form is recorded by its shape only
        let request_json = canonical_json(request).unwrap_or_else(|_| "{\"unjudgeable\":true}".into());
        let decision_json = canonical_json(&decision).unwrap_or_default();
        match self.inner.audit.append(&request_json, &decision_json, "null") {
            Ok(_) => GovernError::Request(message),
            Err(e) => GovernError::Audit(e),
        }
    }

    /// Judges one call and writes its audit record; `Ok` means it may run.
    pub fn check<E>(&self, tool: &str, args: &Json, agent: Option<&str>) -> Result<Permit, GovernError<E>> {
        let Json::Object(map) = args else {
            let shown = json!({"tool": tool, "args": "<not a mapping>"});
            return Err(self.refuse_request(&shown, "the arguments must be a JSON object (name -> value)".into()));
        };
        let request = self.request(tool, map, agent);
        let request_json = match canonical_json(&request) {
            Ok(text) => text,
            Err(e) => return Err(self.refuse_request(&request, format!("the arguments have no canonical form: {e}"))),
        };
        let decision = match self.decide_request(&request) {
            Ok(decision) => decision,
            Err(e) => return Err(self.refuse_request(&request, format!("the request cannot be judged: {e}"))),
        };
        let mut approval = None;
        if decision.effect == Action::RequireApproval {
            let hash = content_hash(&request).unwrap_or_default();
            let answer = match &self.inner.approval {
                None => Approval::refused_by_kernel(
                    "no approval handler is configured, so approvals are refused; set one with \
                     Governor::builder(..).approval_handler(..)",
                    &hash,
                ),
                Some(handler) => {
                    let answer = ask_handler(handler, self.inner.approval_timeout, tool, &request, &decision, &hash);
                    match answer {
                        Ok(answer) if answer.approved && answer.request_hash.as_deref() != Some(hash.as_str()) => {
                            Approval::refused_by_kernel(
                                "the approval is not bound to this call (a replayed or hand-made answer); \
                                 answer with ask.approve(approver, reason)",
                                &hash,
                            )
                        }
                        Ok(answer) => answer,
                        Err(reason) => Approval::refused_by_kernel(reason, &hash),
                    }
                }
            };
            approval = Some(answer);
        }
        let decision_json = canonical_json(&decision_to_json(&decision)).map_err(|e| {
            GovernError::Audit(agt_engine::audit::AuditError::Write(format!("decision has no canonical form: {e}")))
        })?;
        let approval_json = match &approval {
            Some(a) => canonical_json(&a.to_json()).unwrap_or_else(|_| "null".into()),
            None => "null".into(),
        };
        let record_hash =
            self.inner.audit.append(&request_json, &decision_json, &approval_json).map_err(GovernError::Audit)?;
        let approved = approval.as_ref().is_some_and(|a| a.approved);
        if decision.allowed() || (decision.effect == Action::RequireApproval && approved) {
            return Ok(Permit { decision, approval, record_hash });
        }
        match approval {
            Some(approval) if decision.effect == Action::RequireApproval => {
                Err(GovernError::ApprovalRefused { decision: Box::new(decision), approval })
            }
            _ => Err(GovernError::Denied(Box::new(decision))),
        }
    }
}

/// Asks the handler, on its own thread when there is a time limit; a panic or no answer in time
/// is a refusal (the reason is returned).
fn ask_handler(
    handler: &Arc<dyn ApprovalHandler>,
    timeout: Option<Duration>,
    tool: &str,
    request: &Json,
    decision: &Decision,
    hash: &str,
) -> Result<Approval, String> {
    let Some(timeout) = timeout else {
        let ask = ApprovalRequest { tool, request, decision, request_hash: hash };
        return catch_unwind(AssertUnwindSafe(|| handler.decide(&ask)))
            .map_err(|_| "the approval handler panicked; refused".to_string());
    };
    let (sender, receiver) = std::sync::mpsc::channel();
    let (handler, tool, request, decision, hash) =
        (handler.clone(), tool.to_string(), request.clone(), decision.clone(), hash.to_string());
    std::thread::spawn(move || {
        let ask = ApprovalRequest { tool: &tool, request: &request, decision: &decision, request_hash: &hash };
        let _ = sender.send(catch_unwind(AssertUnwindSafe(|| handler.decide(&ask))));
    });
    match receiver.recv_timeout(timeout) {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(_)) | Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            Err("the approval handler panicked; refused".to_string())
        }
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            Err(format!("the approval handler gave no answer within {} s; refused", timeout.as_secs_f64()))
        }
    }
}

/// A governed closure: `call` checks, audits, and only then runs it.
pub struct Governed<F> {
    governor: Governor,
    tool: String,
    agent: Option<String>,
    f: F,
}

impl<F> Governed<F> {
    /// The same tool acting as another agent.
    pub fn as_agent(&self, agent_id: impl Into<String>) -> Governed<F>
    where
        F: Clone,
    {
        Governed {
            governor: self.governor.clone(),
            tool: self.tool.clone(),
            agent: Some(agent_id.into()),
            f: self.f.clone(),
        }
    }

    /// The governor (its policy and audit trail).
    pub fn governor(&self) -> &Governor {
        &self.governor
    }

    /// Runs the closure on `args` if the policy allows it (or an approver approved).
    pub fn call<T, E>(&self, args: Json) -> Result<T, GovernError<E>>
    where
        F: Fn(&Json) -> Result<T, E>,
    {
        self.governor.check(&self.tool, &args, self.agent.as_deref())?;
        // `args` is owned here and only lent to the tool: it runs on exactly what was judged
        (self.f)(&args).map_err(GovernError::Tool)
    }
}

/// A governed async closure (feature `async`).
#[cfg(feature = "async")]
pub struct GovernedAsync<F> {
    governor: Governor,
    tool: String,
    f: F,
}

#[cfg(feature = "async")]
impl<F> GovernedAsync<F> {
    /// Checks and audits the call, then awaits the closure's future; a refused call never
    /// creates it.
    pub async fn call<Fut, T, E>(&self, args: Json) -> Result<T, GovernError<E>>
    where
        F: Fn(Json) -> Fut,
        Fut: std::future::Future<Output = Result<T, E>>,
    {
        self.governor.check::<E>(&self.tool, &args, None)?;
        (self.f)(args).await.map_err(GovernError::Tool)
    }
}
