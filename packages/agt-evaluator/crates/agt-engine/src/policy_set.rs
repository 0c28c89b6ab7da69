//! A compiled, indexed, immutable policy set: conflict strategies, multi-policy combination,
//! agent targeting, stages, and fail-closed handling of condition errors.
//!
//! Why the rule index is exact: a rule is indexed under path P only when one of its top-level
//! `&&` operands is `P == literal` or `P in [literals]`. When the request holds a value at P whose
//! index key is not among the rule's literals, that operand is false, and `false && x` is false
//! whatever `x` does (even if it errors). So skipping the rule gives the same decision as
//! evaluating it. That holds only for a value the literals can be compared with: null (unequal to
//! everything) or a value of the one kind of every non-null literal; any other value (a number
//! against string literals, a list, an opaque value) makes the operand an error, so those rules
//! are evaluated. When the request has no value at P (missing field, wrong shape), every rule is
//! evaluated and fail-closed handling applies as usual. `tests/index_equivalence.rs` compares
//! the index with evaluating every rule on generated requests.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::activation::{Activation, Memo, Resolved, WithStage};
use crate::canonical::{content_hash, CanonicalError};
use crate::cel::{compile_condition, index_key, Key, Limits, Program};
use crate::fast_hash::FastMap;
use crate::policy::{Action, PolicyDocument, PolicyError, Stage, Strategy};
use crate::value::{py_str, Kind, Value};

/// A resolved policy as a loader hands it over.
#[derive(Clone, Debug)]
pub struct ResolvedPolicy {
    pub document: PolicyDocument,
    /// Inherited deny/require_approval rules no rule of the policy's own may override.
    pub sealed_rules: Vec<String>,
    /// `sha256:<hex>` of the document's canonical JSON; computed when None.
    pub content_hash: Option<String>,
    /// Warnings raised while loading.
    pub warnings: Vec<String>,
}

/// A rule counted as matched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MatchedRule {
    pub policy: String,
    pub rule: String,
    pub action: Action,
    pub priority: i64,
    /// Matched only because its condition failed (fail closed).
    pub errored: bool,
}

/// A condition that failed on the request, or a refusal (no policy, no rule).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleError {
    pub policy: Option<String>,
    pub rule: Option<String>,
    pub message: String,
}

/// The outcome of evaluating one request, field for field as `agt_core.Decision`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub effect: Action,
    pub rule: Option<String>,
    pub policy: Option<String>,
    pub policy_hash: Option<String>,
    pub policy_set_hash: Option<String>,
    pub message: String,
    pub stage: Stage,
    pub matched: Vec<MatchedRule>,
    pub errors: Vec<RuleError>,
    pub conflict_strategy: Option<Strategy>,
    pub approvers: Vec<String>,
    pub rate_limited: bool,
    /// The evaluator that reached the decision: always [`EVALUATOR`] for this engine.
    pub evaluator: &'static str,
}

/// What every decision of this engine records as its evaluator (`agt_core.Decision.evaluator`).
pub const EVALUATOR: &str = "native";

impl Decision {
    /// True exactly when the effect is allow, warn or log: warn and log are the effect only of a
    /// decision an allow rule or an allow default made, annotated by a matched warn or log rule.
    pub fn allowed(&self) -> bool {
        !self.effect.is_restrictive()
    }
}

/// Rule ids: (policy index, rule index within the policy's enabled rules).
pub type RuleId = (usize, usize);

/// The compact result of an evaluation, from which `PolicySet::decision` builds a `Decision`.
/// A binding can cache decisions by it: without errors, equal outcomes give equal decisions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Refused before any policy decided (bad stage, no agent id, no applicable policy).
    Refused { reason: String, stage: Stage },
    /// A policy decided: its rule (None: its default), and everything matched.
    Decided {
        stage: Stage,
        policy: usize,
        rule: Option<usize>,
        errored: bool,
        matched: Vec<(RuleId, bool)>,
        errors: Vec<(RuleId, String)>,
    },
}

struct CompiledRule {
    name: String,
    action: Action,
    priority: i64,
    message: String,
    approvers: Vec<String>,
    limit: Option<String>,
    sealed: bool,
    order: usize,
    specificity: usize,
    program: Program,
}

struct StageIndex {
    all: Vec<usize>,
    /// The index path, and its number in the policy set (see `PolicySet::paths`).
    path: Option<(Vec<Arc<str>>, usize)>,
    /// Candidates for a value whose index key some pin names.
    by_key: FastMap<Key, Vec<usize>>,
    /// Candidates for a value of a kind whose key no pin names (lists and maps have no key).
    by_kind: FastMap<Kind, Vec<usize>>,
}

/// A rule's pin on the index path: its literal keys and the kinds of its non-null literals.
struct RulePin {
    keys: HashSet<Key>,
    kinds: HashSet<Kind>,
}

fn key_kind(key: &Key) -> Kind {
    match key {
        Key::Null => Kind::Null,
        Key::Bool(_) => Kind::Bool,
        Key::Int(_) | Key::Double(_) | Key::NaN => Kind::Number,
        Key::Str(_) => Kind::String,
    }
}

impl RulePin {
    /// Whether the pinned conjunct is certainly false (never an error) for a value with this key
    /// and kind: it equals no literal and is null, or of the one kind of every non-null literal.
    /// Any other value makes the conjunct true or an error, so the rule must be evaluated.
    fn excludes(&self, key: Option<&Key>, kind: Kind) -> bool {
        if key.is_some_and(|k| self.keys.contains(k)) {
            return false;
        }
        match kind {
            Kind::Null => true,
            Kind::Opaque => false,
            kind => self.kinds.is_empty() || (self.kinds.len() == 1 && self.kinds.contains(&kind)),
        }
    }
}

impl StageIndex {
    fn unindexed(members: Vec<usize>) -> StageIndex {
        StageIndex { all: members, path: None, by_key: FastMap::default(), by_kind: FastMap::default() }
    }

    fn new(rules: &[CompiledRule], members: Vec<usize>) -> StageIndex {
        // per rule: path -> keys (a later pin on the same path replaces an earlier one)
        let mut pins: Vec<Vec<(Vec<String>, Vec<Key>)>> = Vec::with_capacity(members.len());
        let mut counts: Vec<(Vec<String>, usize)> = Vec::new();
        for &i in &members {
            let mut rule_pins: Vec<(Vec<String>, Vec<Key>)> = Vec::new();
            if let Some(rule) = rules.get(i) {
                for pin in &rule.program.pins {
                    if let Some(slot) = rule_pins.iter_mut().find(|(p, _)| *p == pin.path) {
                        slot.1 = pin.keys.clone();
                    } else {
                        rule_pins.push((pin.path.clone(), pin.keys.clone()));
                    }
                }
            }
            for (path, _) in &rule_pins {
                match counts.iter_mut().find(|(p, _)| p == path) {
                    Some(entry) => entry.1 += 1,
                    None => counts.push((path.clone(), 1)),
                }
            }
            pins.push(rule_pins);
        }
        let mut index =
            StageIndex { all: members.clone(), path: None, by_key: FastMap::default(), by_kind: FastMap::default() };
        // the most pinned path (the shorter on a tie, then the first seen)
        let mut best: Option<&(Vec<String>, usize)> = None;
        for entry in &counts {
            let better = match best {
                None => true,
                Some(b) => (entry.1, std::cmp::Reverse(entry.0.len())) > (b.1, std::cmp::Reverse(b.0.len())),
            };
            if better {
                best = Some(entry);
            }
        }
        // an index only pays when it lets us skip several rules
        let Some((path, count)) = best.cloned() else {
            return index;
        };
        if count < 2 {
            return index;
        }
        let rule_pins: Vec<Option<RulePin>> = pins
            .iter()
            .map(|rule_pins| {
                rule_pins.iter().find(|(p, _)| *p == path).map(|(_, keys)| RulePin {
                    keys: keys.iter().cloned().collect(),
                    kinds: keys.iter().filter(|k| **k != Key::Null).map(key_kind).collect(),
                })
            })
            .collect();
        let select = |key: Option<&Key>, kind: Kind| -> Vec<usize> {
            members
                .iter()
                .zip(&rule_pins)
                .filter(|(_, pin)| pin.as_ref().is_none_or(|pin| !pin.excludes(key, kind)))
                .map(|(&i, _)| i)
                .collect()
        };
        let all_keys: HashSet<&Key> = rule_pins.iter().flatten().flat_map(|p| p.keys.iter()).collect();
        for key in all_keys {
            index.by_key.insert(key.clone(), select(Some(key), key_kind(key)));
        }
        for kind in [Kind::Null, Kind::Bool, Kind::Number, Kind::String, Kind::List, Kind::Map] {
            index.by_kind.insert(kind, select(None, kind));
        }
        index.path = Some((path.iter().map(|k| Arc::from(k.as_str())).collect(), usize::MAX));
        index
    }

    fn candidates(&self, request: &Memo<'_>) -> &[usize] {
        let Some((path, slot)) = &self.path else {
            return &self.all;
        };
        let value = match request.get(*slot, path) {
            Some(Resolved::Found(value)) => value,
            _ => return &self.all,
        };
        if let Some(found) = index_key(value).and_then(|key| self.by_key.get(&key)) {
            return found;
        }
        self.by_kind.get(&value.kind()).map_or(&self.all, Vec::as_slice)
    }
}

struct CompiledPolicy {
    name: String,
    hash: String,
    default_action: Action,
    default_message: String,
    strategy: Strategy,
    agents: Option<Vec<Vec<char>>>,
    rules: Vec<CompiledRule>,
    /// Per stage (indexed by `Stage as usize`): its rules, if it has any.
    stages: [Option<StageIndex>; Stage::ALL.len()],
}

/// A compiled policy set. Immutable; share it between threads freely.
pub struct PolicySet {
    policies: Vec<CompiledPolicy>,
    hash: String,
    warnings: Vec<String>,
    /// Every distinct request path the set reads, numbered by position (see [`PolicySet::paths`]).
    paths: Vec<Vec<Arc<str>>>,
}

/// The number of `stage` in every set's [`PolicySet::paths`].
const STAGE_SLOT: usize = 0;
/// The number of `agent.id` in every set's [`PolicySet::paths`].
const AGENT_SLOT: usize = 1;

/// Numbers distinct paths in the order they are first seen.
#[derive(Default)]
struct PathTable {
    paths: Vec<Vec<Arc<str>>>,
    slots: HashMap<Vec<Arc<str>>, usize>,
}

impl PathTable {
    fn slot_of(&mut self, path: &[Arc<str>]) -> usize {
        if let Some(&slot) = self.slots.get(path) {
            return slot;
        }
        let slot = self.paths.len();
        self.paths.push(path.to_vec());
        self.slots.insert(path.to_vec(), slot);
        slot
    }
}

fn hash_error(e: CanonicalError) -> PolicyError {
    PolicyError { policy: None, path: None, message: format!("cannot hash the policy: {e}"), position: None }
}

/// `fnmatch.fnmatchcase` restricted to `*` and `?` (the only portable wildcards).
fn glob_match(pattern: &[char], text: &[char]) -> bool {
    let (mut p, mut t) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == '?' || Some(&c) == text.get(t) => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern.get(p..).is_some_and(|rest| rest.iter().all(|&c| c == '*'))
}

impl CompiledPolicy {
    fn new(resolved: &ResolvedPolicy, limits: &Limits, indexed: bool) -> Result<CompiledPolicy, PolicyError> {
        let doc = &resolved.document;
        let with_policy = |mut e: PolicyError| {
            e.policy = Some(doc.name.clone());
            e
        };
        let hash = match &resolved.content_hash {
            Some(h) if !h.is_empty() => h.clone(),
            _ => content_hash(&doc.to_json()).map_err(hash_error).map_err(with_policy)?,
        };
        let mut rules = Vec::new();
        let mut per_stage: Vec<(Stage, Vec<usize>)> = Vec::new();
        for (order, rule) in doc.rules.iter().enumerate() {
            // disabled rules are compiled too: a broken condition is refused wherever it is
            let program = compile_condition(&rule.condition, limits).map_err(|e| PolicyError {
                policy: Some(doc.name.clone()),
                path: Some(format!("rules[{order}].condition")),
                position: Some(e.position(&rule.condition)),
                message: e.message,
            })?;
            if !rule.enabled {
                continue;
            }
            let index = rules.len();
            rules.push(CompiledRule {
                name: rule.name.clone(),
                action: rule.action,
                priority: rule.priority,
                message: if rule.message.is_empty() { rule.description.clone() } else { rule.message.clone() },
                approvers: rule.approvers.clone(),
                limit: rule.limit.clone(),
                sealed: resolved.sealed_rules.contains(&rule.name),
                order,
                specificity: program.conjunct_count,
                program,
            });
            match per_stage.iter_mut().find(|(s, _)| *s == rule.stage) {
                Some((_, members)) => members.push(index),
                None => per_stage.push((rule.stage, vec![index])),
            }
        }
        let mut stages: [Option<StageIndex>; Stage::ALL.len()] = Default::default();
        for (stage, members) in per_stage {
            let index = if indexed { StageIndex::new(&rules, members) } else { StageIndex::unindexed(members) };
            if let Some(slot) = stages.get_mut(stage as usize) {
                *slot = Some(index);
            }
        }
        Ok(CompiledPolicy {
            name: doc.name.clone(),
            hash,
            default_action: doc.default_action,
            default_message: format!(
                "no rule of policy `{}` matched; default_action is {}",
                doc.name,
                doc.default_action.as_str()
            ),
            strategy: doc.conflict_strategy,
            agents: doc.agents.as_ref().map(|patterns| patterns.iter().map(|p| p.chars().collect()).collect()),
            rules,
            stages,
        })
    }

    fn applies_to(&self, agent_id: &str) -> bool {
        let Some(patterns) = &self.agents else {
            return true;
        };
        let id: Vec<char> = agent_id.chars().collect();
        patterns.iter().any(|p| glob_match(p, &id))
    }

    fn rule(&self, index: usize) -> Option<&CompiledRule> {
        self.rules.get(index)
    }

    fn stage(&self, stage: Stage) -> Option<&StageIndex> {
        self.stages.get(stage as usize).and_then(Option::as_ref)
    }
}

/// Resolves the rules of one policy that matched (`(policy, rule)` ids, all of this policy) into
/// the deciding one. Warn and log rules annotate: they are reported as matched, but only allow,
/// deny and require_approval rules (or the default) decide, so a log rule never grants access.
fn pick(policy: &CompiledPolicy, matched: &[(RuleId, bool)], strategy: Strategy) -> Option<(usize, bool)> {
    let rule = |i: usize| policy.rule(i);
    let deciders = || {
        matched
            .iter()
            .map(|&((_, ri), errored)| (ri, errored))
            .filter(move |&(ri, _)| rule(ri).is_some_and(|r| !r.action.is_annotation()))
    };
    let key = |&(i, _): &(usize, bool)| -> Option<(i64, i64, i64, i64)> {
        let r = rule(i)?;
        let severity = i64::from(r.action.severity());
        let order = -(r.order as i64);
        let specificity = r.specificity as i64;
        Some(match strategy {
            Strategy::DenyOverrides => (severity, r.priority, order, 0),
            Strategy::AllowOverrides => (-severity, r.priority, order, 0),
            Strategy::PriorityFirstMatch => (r.priority, order, 0, 0),
            Strategy::MostSpecificWins => (specificity, r.priority, severity, order),
        })
    };
    let mut best = first_max(deciders(), key)?;
    if strategy != Strategy::DenyOverrides {
        // an inherited deny or require_approval can never be overridden by a child's rule
        let best_severity = rule(best.0)?.action.severity();
        let sealed =
            deciders().filter(|&(i, _)| rule(i).is_some_and(|r| r.sealed && r.action.severity() > best_severity));
        if let Some(found) = first_max(sealed, |&(i, _)| {
            rule(i).map(|r| (i64::from(r.action.severity()), r.priority, -(r.order as i64), 0))
        }) {
            best = found;
        }
    }
    Some(best)
}

/// The first element with the largest key (as Python's `max`).
fn first_max<T, K: Ord>(items: impl Iterator<Item = T>, key: impl Fn(&T) -> Option<K>) -> Option<T> {
    let mut best: Option<(T, K)> = None;
    for item in items {
        let k = key(&item)?;
        match &best {
            Some((_, bk)) if k <= *bk => {}
            _ => best = Some((item, k)),
        }
    }
    best.map(|(item, _)| item)
}

impl PolicySet {
    /// Compiles resolved policies (in load order) with the default condition limits.
    pub fn compile(policies: &[ResolvedPolicy]) -> Result<PolicySet, PolicyError> {
        PolicySet::compile_with(policies, &Limits::default())
    }

    /// Compiles resolved policies with explicit condition limits.
    pub fn compile_with(policies: &[ResolvedPolicy], limits: &Limits) -> Result<PolicySet, PolicyError> {
        PolicySet::build(policies, limits, true)
    }

    /// Compiles without the rule index: every enabled rule of the request's stage is evaluated on
    /// every request. The slow, obvious reference the index is tested against; decisions are
    /// identical by construction (see the module documentation).
    pub fn compile_unindexed(policies: &[ResolvedPolicy]) -> Result<PolicySet, PolicyError> {
        PolicySet::build(policies, &Limits::default(), false)
    }

    fn build(policies: &[ResolvedPolicy], limits: &Limits, indexed: bool) -> Result<PolicySet, PolicyError> {
        let mut compiled: Vec<CompiledPolicy> = Vec::with_capacity(policies.len());
        for resolved in policies {
            if compiled.iter().any(|p| p.name == resolved.document.name) {
                return Err(PolicyError {
                    policy: Some(resolved.document.name.clone()),
                    path: Some("name".into()),
                    message: format!(
                        "two policies are named `{}`; policy names must be unique",
                        resolved.document.name
                    ),
                    position: None,
                });
            }
            compiled.push(CompiledPolicy::new(resolved, limits, indexed)?);
        }
        let listing: Vec<serde_json::Value> =
            compiled.iter().map(|p| serde_json::json!({"name": p.name, "hash": p.hash})).collect();
        let hash = content_hash(&serde_json::Value::Array(listing)).map_err(hash_error)?;
        let mut table = PathTable::default();
        table.slot_of(&[Arc::from("stage")]);
        table.slot_of(&[Arc::from("agent"), Arc::from("id")]);
        for policy in &mut compiled {
            for stage in Stage::ALL {
                let index = policy.stages.get_mut(stage as usize).and_then(Option::as_mut);
                if let Some((path, slot)) = index.and_then(|index| index.path.as_mut()) {
                    *slot = table.slot_of(path);
                }
            }
            for rule in &mut policy.rules {
                rule.program.number_paths(&mut |path| table.slot_of(path));
            }
        }
        Ok(PolicySet {
            hash,
            warnings: policies.iter().flat_map(|p| p.warnings.iter().cloned()).collect(),
            policies: compiled,
            paths: table.paths,
        })
    }

    /// Every distinct request path the set's conditions, index and combination read, each
    /// numbered by its position: `stage` is 0 and `agent.id` 1. An activation receives the
    /// number with each path (`Activation::resolve_slot`) and may index per-path data by it.
    pub fn paths(&self) -> &[Vec<Arc<str>>] {
        &self.paths
    }

    /// `sha256:<hex>` over `[{"name", "hash"}, ...]` of the policies in load order.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// Policy names in load order.
    pub fn policy_names(&self) -> Vec<&str> {
        self.policies.iter().map(|p| p.name.as_str()).collect()
    }

    /// `(name, content hash)` per policy, in load order.
    pub fn policy_hashes(&self) -> Vec<(&str, &str)> {
        self.policies.iter().map(|p| (p.name.as_str(), p.hash.as_str())).collect()
    }

    /// Stages with at least one enabled rule.
    pub fn stages(&self) -> Vec<Stage> {
        Stage::ALL.into_iter().filter(|&s| self.policies.iter().any(|p| p.stage(s).is_some())).collect()
    }

    /// `(policy, rule, limit)` for every enabled rule that declares a rate limit.
    pub fn limits(&self) -> Vec<(&str, &str, &str)> {
        self.policies
            .iter()
            .flat_map(|p| {
                p.rules.iter().filter_map(move |r| r.limit.as_deref().map(|l| (p.name.as_str(), r.name.as_str(), l)))
            })
            .collect()
    }

    /// Load warnings of every policy.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Decides one request given as a value (a map shaped like `EvaluationRequest`).
    pub fn evaluate(&self, request: &Value) -> Decision {
        self.decision(&self.outcome(request))
    }

    /// Evaluates a request held as a value into a compact outcome.
    pub fn outcome(&self, request: &Value) -> Outcome {
        match request {
            Value::Map(map) => self.outcome_of(&**map),
            other => Outcome::Refused {
                reason: format!("request is a `{}`, not a mapping", other.type_name()),
                stage: Stage::PreTool,
            },
        }
    }

    /// Evaluates a request into a compact outcome, reading only the paths the policies need,
    /// each at most once. Never fails: errors become part of the outcome.
    pub fn outcome_of(&self, request: &dyn Activation) -> Outcome {
        let stage = match request.resolve_slot(STAGE_SLOT, self.path(STAGE_SLOT)) {
            Resolved::Unset => None,
            Resolved::Found(Value::Str(s)) => match Stage::parse(&s) {
                Some(stage) => Some(stage),
                None => {
                    return Outcome::Refused {
                        reason: format!("request has unknown stage `{s}`"),
                        stage: Stage::PreTool,
                    }
                }
            },
            Resolved::Found(other) => {
                return Outcome::Refused {
                    reason: format!("request has unknown stage `{}`", py_str(&other)),
                    stage: Stage::PreTool,
                }
            }
            _ => return Outcome::Refused { reason: "request has an unreadable stage".into(), stage: Stage::PreTool },
        };
        let with_stage;
        let (stage, activation): (Stage, &dyn Activation) = match stage {
            Some(stage) => (stage, request),
            None => {
                // no stage means pre_tool, and conditions must see it that way too
                with_stage = WithStage { inner: request, stage: Stage::PreTool.as_str() };
                (Stage::PreTool, &with_stage)
            }
        };
        self.outcome_at(stage, &Memo::new(activation, self.paths.len()))
    }

    fn path(&self, slot: usize) -> &[Arc<str>] {
        self.paths.get(slot).map_or(&[], Vec::as_slice)
    }

    /// The outcome of a request at `stage`, every numbered path read through `memo`.
    fn outcome_at(&self, stage: Stage, memo: &Memo<'_>) -> Outcome {
        let agent_id = match memo.get(AGENT_SLOT, self.path(AGENT_SLOT)) {
            Some(Resolved::Found(Value::Str(id))) => id,
            _ => return Outcome::Refused { reason: "request has no `agent.id` string".into(), stage },
        };
        let mut matched: Vec<(RuleId, bool)> = Vec::new();
        let mut errors: Vec<(RuleId, String)> = Vec::new();
        // the deciding outcome so far: (severity, policy, rule or None for its default, errored)
        let mut best: Option<(u8, usize, Option<usize>, bool)> = None;
        for (pi, policy) in self.policies.iter().enumerate() {
            if !policy.applies_to(agent_id) {
                continue;
            }
            // this policy's matches are the end of `matched`, from here
            let first = matched.len();
            if let Some(index) = policy.stage(stage) {
                for &ri in index.candidates(memo) {
                    let Some(rule) = policy.rule(ri) else { continue };
                    let errored = match rule.program.evaluate_bool_in(memo) {
                        Ok(true) => false,
                        Ok(false) => continue,
                        Err(e) => {
                            errors.push(((pi, ri), e.message));
                            // fail closed: a restrictive rule that cannot be evaluated counts as
                            // matched, a permissive one as not matched
                            if !rule.action.is_restrictive() {
                                continue;
                            }
                            true
                        }
                    };
                    matched.push(((pi, ri), errored));
                }
            }
            let outcome = match pick(policy, matched.get(first..).unwrap_or(&[]), policy.strategy) {
                Some((ri, errored)) => {
                    let severity = policy.rule(ri).map_or(0, |r| r.action.severity());
                    (severity, pi, Some(ri), errored)
                }
                None => (policy.default_action.severity(), pi, None, false),
            };
            // several policies: the most restrictive outcome wins; ties go to the earlier policy
            if best.is_none_or(|b| outcome.0 > b.0) {
                best = Some(outcome);
            }
        }
        let Some((_, policy, rule, errored)) = best else {
            return Outcome::Refused { reason: format!("no policy applies to agent `{agent_id}`"), stage };
        };
        Outcome::Decided { stage, policy, rule, errored, matched, errors }
    }

    fn names(&self, (pi, ri): RuleId) -> (String, String) {
        let policy = self.policies.get(pi);
        let rule = policy.and_then(|p| p.rule(ri));
        (policy.map(|p| p.name.clone()).unwrap_or_default(), rule.map(|r| r.name.clone()).unwrap_or_default())
    }

    /// Builds the full decision for an outcome.
    pub fn decision(&self, outcome: &Outcome) -> Decision {
        match outcome {
            Outcome::Refused { reason, stage } => Decision {
                effect: Action::Deny,
                rule: None,
                policy: None,
                policy_hash: None,
                policy_set_hash: Some(self.hash.clone()),
                message: reason.clone(),
                stage: *stage,
                matched: Vec::new(),
                errors: vec![RuleError { policy: None, rule: None, message: reason.clone() }],
                conflict_strategy: None,
                approvers: Vec::new(),
                rate_limited: false,
                evaluator: EVALUATOR,
            },
            Outcome::Decided { stage, policy, rule, errored, matched, errors } => {
                let errors: Vec<RuleError> = errors
                    .iter()
                    .map(|(id, message)| {
                        let (p, r) = self.names(*id);
                        RuleError { policy: Some(p), rule: Some(r), message: message.clone() }
                    })
                    .collect();
                let matched_ids: Vec<RuleId> = matched.iter().map(|&(id, _)| id).collect();
                let matched: Vec<MatchedRule> = matched
                    .iter()
                    .map(|&((pi, ri), errored)| {
                        let (p, r) = self.names((pi, ri));
                        let rule = self.policies.get(pi).and_then(|p| p.rule(ri));
                        MatchedRule {
                            policy: p,
                            rule: r,
                            action: rule.map_or(Action::Deny, |r| r.action),
                            priority: rule.map_or(0, |r| r.priority),
                            errored,
                        }
                    })
                    .collect();
                let p = self.policies.get(*policy);
                let deciding = rule.and_then(|ri| p.and_then(|p| p.rule(ri)));
                let (effect, message, approvers, rule_name) = match (p, deciding) {
                    (Some(_), Some(r)) => {
                        let mut message = r.message.clone();
                        if *errored && !errors.is_empty() {
                            let failure = errors
                                .iter()
                                .find(|e| e.rule.as_deref() == Some(r.name.as_str()))
                                .map(|e| e.message.as_str())
                                .unwrap_or("");
                            let note = format!(
                                "condition could not be evaluated ({failure}); a restrictive rule fails closed"
                            );
                            message = if message.is_empty() { note } else { format!("{message} ({note})") };
                        }
                        (r.action, message, r.approvers.clone(), Some(r.name.clone()))
                    }
                    (Some(p), None) => {
                        let mut message = p.default_message.clone();
                        // the default decided only because these permissive rules could not be evaluated
                        let notes: Vec<String> = errors
                            .iter()
                            .filter(|e| e.policy.as_deref() == Some(p.name.as_str()))
                            .map(|e| {
                                format!(
                                    "rule `{}` could not be evaluated ({})",
                                    e.rule.as_deref().unwrap_or(""),
                                    e.message
                                )
                            })
                            .collect();
                        if !notes.is_empty() {
                            message = format!("{message}; {}", notes.join("; "));
                        }
                        (p.default_action, message, Vec::new(), None)
                    }
                    (None, _) => (Action::Deny, "internal: unknown policy".to_string(), Vec::new(), None),
                };
                // each matched warn or log rule's own message is part of the decision (so the
                // kernel's notice and the audit record carry it), whatever the decision is
                let mut notes: Vec<String> = if message.is_empty() { Vec::new() } else { vec![message] };
                for &(pi, ri) in matched_ids.iter() {
                    if let Some(r) = self.policies.get(pi).and_then(|p| p.rule(ri)) {
                        if r.action.is_annotation() && !r.message.is_empty() {
                            notes.push(format!("{} `{}`: {}", r.action.as_str(), r.name, r.message));
                        }
                    }
                }
                let message = notes.join("; ");
                // an allowing decision carries the most severe annotation that matched (warn > log),
                // so consumers see "allowed, with a warning"; `rule` stays the allow rule (or None:
                // the default); a deny or require_approval keeps its effect: annotations never grant
                let effect = if effect == Action::Allow {
                    if matched.iter().any(|m| m.action == Action::Warn) {
                        Action::Warn
                    } else if matched.iter().any(|m| m.action == Action::Log) {
                        Action::Log
                    } else {
                        effect
                    }
                } else {
                    effect
                };
                Decision {
                    effect,
                    rule: rule_name,
                    policy: p.map(|p| p.name.clone()),
                    policy_hash: p.map(|p| p.hash.clone()),
                    policy_set_hash: Some(self.hash.clone()),
                    message,
                    stage: *stage,
                    matched,
                    errors,
                    conflict_strategy: p.map(|p| p.strategy),
                    approvers,
                    rate_limited: false,
                    evaluator: EVALUATOR,
                }
            }
        }
    }
}

/// `Arc` so a binding can share one set between threads without copying it.
pub type SharedPolicySet = Arc<PolicySet>;
