//! The policy document model (`apiVersion: governance.toolkit/v1`), read from JSON and checked.
//!
//! Documents arrive resolved (`extends` already applied by a loader). Every check the shared
//! JSON shape implies is made here too, with the error's path in the document, so an SDK that
//! reads policies straight into the engine refuses exactly what the Python loader refuses.

use std::fmt;

use serde_json::{Map as JsonMap, Value as Json};

/// What a matched rule does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    Allow,
    Log,
    Warn,
    RequireApproval,
    Deny,
}

impl Action {
    /// The spelling in documents and decisions.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Log => "log",
            Action::Warn => "warn",
            Action::RequireApproval => "require_approval",
            Action::Deny => "deny",
        }
    }

    fn parse(text: &str) -> Option<Action> {
        Some(match text {
            "allow" => Action::Allow,
            "log" => Action::Log,
            "warn" => Action::Warn,
            "require_approval" => Action::RequireApproval,
            "deny" => Action::Deny,
            _ => return None,
        })
    }

    /// How restrictive the effect is: allow < log < warn < require_approval < deny.
    pub fn severity(self) -> u8 {
        match self {
            Action::Allow => 0,
            Action::Log => 1,
            Action::Warn => 2,
            Action::RequireApproval => 3,
            Action::Deny => 4,
        }
    }

    /// deny and require_approval hold the action; allow, warn and log let it through.
    pub fn is_restrictive(self) -> bool {
        matches!(self, Action::Deny | Action::RequireApproval)
    }

    /// warn and log annotate a decision and never decide it: a matching warn or log rule is
    /// reported in `matched`, while allow, deny and require_approval rules (or the policy's
    /// default) decide, so a log rule never grants access the default would refuse.
    pub fn is_annotation(self) -> bool {
        matches!(self, Action::Warn | Action::Log)
    }
}

/// Where in an agent's turn a rule applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stage {
    PreInput,
    PreTool,
    PostTool,
    PreOutput,
}

impl Stage {
    /// Every stage, in order.
    pub const ALL: [Stage; 4] = [Stage::PreInput, Stage::PreTool, Stage::PostTool, Stage::PreOutput];

    /// The spelling in documents and requests.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::PreInput => "pre_input",
            Stage::PreTool => "pre_tool",
            Stage::PostTool => "post_tool",
            Stage::PreOutput => "pre_output",
        }
    }

    /// Reads a stage name.
    pub fn parse(text: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// How one policy resolves several matching rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    DenyOverrides,
    AllowOverrides,
    PriorityFirstMatch,
    MostSpecificWins,
}

impl Strategy {
    /// The spelling in documents and decisions.
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::DenyOverrides => "deny_overrides",
            Strategy::AllowOverrides => "allow_overrides",
            Strategy::PriorityFirstMatch => "priority_first_match",
            Strategy::MostSpecificWins => "most_specific_wins",
        }
    }

    fn parse(text: &str) -> Option<Strategy> {
        [Strategy::DenyOverrides, Strategy::AllowOverrides, Strategy::PriorityFirstMatch, Strategy::MostSpecificWins]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// One rule.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    pub name: String,
    pub description: String,
    pub condition: String,
    pub action: Action,
    pub message: String,
    pub priority: i64,
    pub approvers: Vec<String>,
    pub limit: Option<String>,
    pub stage: Stage,
    pub enabled: bool,
}

/// A resolved policy document.
#[derive(Clone, Debug, PartialEq)]
pub struct PolicyDocument {
    pub name: String,
    pub description: String,
    /// `allow` or `deny`.
    pub default_action: Action,
    pub conflict_strategy: Strategy,
    pub agents: Option<Vec<String>>,
    pub request_schema: Option<JsonMap<String, Json>>,
    pub rules: Vec<Rule>,
    /// The `redaction` block, kept as written: agent-os's kernel applies it; the engine only
    /// hashes it (it is part of the policy's content), never evaluates it.
    pub redaction: Option<JsonMap<String, Json>>,
}

/// A policy that cannot be loaded: where (`path` inside the document) and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyError {
    /// The policy's name when known.
    pub policy: Option<String>,
    /// Keys joined by `.`, list indexes in brackets: `rules[0].condition`.
    pub path: Option<String>,
    pub message: String,
    /// For condition errors: 1-based line and column inside the condition.
    pub position: Option<(usize, usize)>,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.path {
            Some(path) => write!(f, "{path}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for PolicyError {}

/// The only API version this engine reads.
pub const API_VERSION: &str = "governance.toolkit/v1";

const DOC_KEYS: [&str; 10] = [
    "apiVersion",
    "name",
    "description",
    "default_action",
    "conflict_strategy",
    "agents",
    "extends",
    "request_schema",
    "rules",
    "redaction",
];
const RULE_KEYS: [&str; 10] =
    ["name", "description", "condition", "action", "message", "priority", "approvers", "limit", "stage", "enabled"];
const FIELD_TYPES: [&str; 9] = ["string", "int", "double", "number", "bool", "list", "map", "null", "any"];

fn err(path: impl Into<String>, message: impl Into<String>) -> PolicyError {
    PolicyError { policy: None, path: Some(path.into()), message: message.into(), position: None }
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-'))
        && name.chars().count() <= 128
}

fn string_field(obj: &JsonMap<String, Json>, key: &str, path: &str, default: &str) -> Result<String, PolicyError> {
    match obj.get(key) {
        None => Ok(default.to_string()),
        Some(Json::String(s)) => Ok(s.clone()),
        Some(_) => Err(err(path, "input should be a valid string")),
    }
}

fn name_field(obj: &JsonMap<String, Json>, path: &str) -> Result<String, PolicyError> {
    match obj.get("name") {
        None => Err(err(path, "field required")),
        Some(Json::String(s)) if valid_name(s) => Ok(s.clone()),
        Some(Json::String(s)) => Err(err(
            path,
            format!(
                "name `{s}` must start with a letter or digit and use only letters, digits, `_ . : -` (at most 128)"
            ),
        )),
        Some(_) => Err(err(path, "input should be a valid string")),
    }
}

fn string_list(value: &Json, path: &str) -> Result<Vec<String>, PolicyError> {
    let Json::Array(items) = value else {
        return Err(err(path, "input should be a valid list"));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| match item {
            Json::String(s) => Ok(s.clone()),
            _ => Err(err(format!("{path}[{i}]"), "input should be a valid string")),
        })
        .collect()
}

/// Parses a rate limit such as `10/minute` into (count, period in seconds).
pub fn parse_limit(text: &str) -> Option<(u32, f64)> {
    let (count, period) = text.split_once('/')?;
    let first = count.chars().next()?;
    if !('1'..='9').contains(&first) || count.len() > 9 || !count.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let seconds = match period {
        "second" => 1.0,
        "minute" => 60.0,
        "hour" => 3600.0,
        "day" => 86400.0,
        _ => return None,
    };
    Some((count.parse().ok()?, seconds))
}

fn check_schema_node(node: &JsonMap<String, Json>, path: &str) -> Result<(), PolicyError> {
    for (key, sub) in node {
        match sub {
            Json::Object(inner) => check_schema_node(inner, &format!("{path}.{key}"))?,
            Json::String(s) if FIELD_TYPES.contains(&s.as_str()) => {}
            other => {
                return Err(err(
                    "request_schema",
                    format!(
                        "{path}.{key}: expected a nested mapping or one of {}, got `{}`",
                        {
                            let mut types = FIELD_TYPES.to_vec();
                            types.sort_unstable();
                            types.join(", ")
                        },
                        match other {
                            Json::String(s) => s.clone(),
                            other => other.to_string(),
                        }
                    ),
                ))
            }
        }
    }
    Ok(())
}

impl PolicyDocument {
    /// Reads and checks one resolved document (JSON as `PolicyDocument.model_dump(by_alias=True)`
    /// writes it, or as an author wrote it).
    pub fn from_json(json: &Json) -> Result<PolicyDocument, PolicyError> {
        let Json::Object(obj) = json else {
            return Err(PolicyError {
                policy: None,
                path: None,
                message: "a policy document must be a mapping".into(),
                position: None,
            });
        };
        if let Some(key) = obj.keys().find(|k| !DOC_KEYS.contains(&k.as_str())) {
            return Err(err(key.clone(), format!("unknown field `{key}`")));
        }
        match obj.get("apiVersion") {
            Some(Json::String(v)) if v == API_VERSION => {}
            None => return Err(err("apiVersion", "field required")),
            Some(_) => return Err(err("apiVersion", format!("apiVersion must be `{API_VERSION}`"))),
        }
        let name = name_field(obj, "name")?;
        let description = string_field(obj, "description", "description", "")?;
        let default_action = match obj.get("default_action") {
            None => Action::Deny,
            Some(Json::String(s)) if s == "allow" || s == "deny" => Action::parse(s).unwrap_or(Action::Deny),
            Some(_) => return Err(err("default_action", "default_action must be `allow` or `deny`")),
        };
        let conflict_strategy = match obj.get("conflict_strategy") {
            None => Strategy::DenyOverrides,
            Some(Json::String(s)) => match Strategy::parse(s) {
                Some(strategy) => strategy,
                None => return Err(err("conflict_strategy", format!("unknown conflict strategy `{s}`"))),
            },
            Some(_) => return Err(err("conflict_strategy", "input should be a valid string")),
        };
        let agents = match obj.get("agents") {
            None | Some(Json::Null) => None,
            Some(value) => {
                let patterns = string_list(value, "agents")?;
                if patterns.is_empty() {
                    return Err(err(
                        "agents",
                        "`agents: []` applies the policy to no agent; omit `agents` to apply it to every agent",
                    ));
                }
                for pattern in &patterns {
                    if pattern.is_empty() {
                        return Err(err("agents", "an agent pattern is empty"));
                    }
                    if let Some(bad) = pattern.chars().find(|c| matches!(c, '[' | ']' | '\\')) {
                        return Err(err(
                            "agents",
                            format!(
                                "agent pattern `{pattern}` uses `{bad}`; patterns support only `*` and `?` wildcards"
                            ),
                        ));
                    }
                }
                Some(patterns)
            }
        };
        match obj.get("extends") {
            None => {}
            Some(Json::String(_)) => return Err(err("extends", "a resolved policy has no `extends`")),
            Some(value) if !string_list(value, "extends")?.is_empty() => {
                return Err(err("extends", "a resolved policy has no `extends`"));
            }
            Some(_) => {}
        }
        let request_schema = match obj.get("request_schema") {
            None | Some(Json::Null) => None,
            Some(Json::Object(schema)) => {
                check_schema_node(schema, "request_schema")?;
                Some(schema.clone())
            }
            Some(_) => return Err(err("request_schema", "input should be a valid dictionary")),
        };
        let rules = match obj.get("rules") {
            None => Vec::new(),
            Some(Json::Array(items)) => {
                let mut rules: Vec<Rule> = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    let rule = Rule::from_json(item, &format!("rules[{i}]"))?;
                    if rules.iter().any(|r| r.name == rule.name) {
                        return Err(err(format!("rules[{i}].name"), format!("duplicate rule name `{}`", rule.name)));
                    }
                    rules.push(rule);
                }
                rules
            }
            Some(_) => return Err(err("rules", "input should be a valid list")),
        };
        let redaction = match obj.get("redaction") {
            None | Some(Json::Null) => None,
            Some(Json::Object(block)) => Some(block.clone()),
            Some(_) => return Err(err("redaction", "input should be a valid dictionary")),
        };
        Ok(PolicyDocument {
            name,
            description,
            default_action,
            conflict_strategy,
            agents,
            request_schema,
            rules,
            redaction,
        })
    }

    /// The document as `PolicyDocument.model_dump(mode="json", by_alias=True)` writes it: every
    /// field, defaults included. Its canonical JSON is what the policy hash covers.
    pub fn to_json(&self) -> Json {
        let rules: Vec<Json> = self.rules.iter().map(Rule::to_json).collect();
        let mut doc = serde_json::json!({
            "apiVersion": API_VERSION,
            "name": self.name,
            "description": self.description,
            "default_action": self.default_action.as_str(),
            "conflict_strategy": self.conflict_strategy.as_str(),
            "agents": self.agents,
            "extends": [],
            "request_schema": self.request_schema,
            "rules": rules,
        });
        // Absent (not null) when the policy has none, as agent-os dumps it: hashes stay as they were.
        if let (Some(block), Json::Object(map)) = (&self.redaction, &mut doc) {
            map.insert("redaction".to_string(), Json::Object(block.clone()));
        }
        doc
    }
}

impl Rule {
    fn from_json(json: &Json, at: &str) -> Result<Rule, PolicyError> {
        let Json::Object(obj) = json else {
            return Err(err(at, "a rule must be a mapping"));
        };
        if let Some(key) = obj.keys().find(|k| !RULE_KEYS.contains(&k.as_str())) {
            return Err(err(format!("{at}.{key}"), format!("unknown field `{key}`")));
        }
        let name = name_field(obj, &format!("{at}.name"))?;
        let description = string_field(obj, "description", &format!("{at}.description"), "")?;
        let condition = match obj.get("condition") {
            None => return Err(err(format!("{at}.condition"), "field required")),
            Some(Json::String(s)) if !s.is_empty() => s.clone(),
            Some(Json::String(_)) => return Err(err(format!("{at}.condition"), "a condition cannot be empty")),
            Some(_) => return Err(err(format!("{at}.condition"), "input should be a valid string")),
        };
        let action = match obj.get("action") {
            None => return Err(err(format!("{at}.action"), "field required")),
            Some(Json::String(s)) => match Action::parse(s) {
                Some(a) => a,
                None => {
                    return Err(err(
                        format!("{at}.action"),
                        format!("unknown action `{s}`: use allow, deny, require_approval, warn or log"),
                    ))
                }
            },
            Some(_) => return Err(err(format!("{at}.action"), "input should be a valid string")),
        };
        let message = string_field(obj, "message", &format!("{at}.message"), "")?;
        let priority = match obj.get("priority") {
            None => 0,
            Some(Json::Number(n)) => match n.as_i64() {
                Some(p) if (-1_000_000_000..=1_000_000_000).contains(&p) => p,
                Some(_) => return Err(err(format!("{at}.priority"), "priority must be within ±1000000000")),
                None => return Err(err(format!("{at}.priority"), "input should be a valid integer")),
            },
            Some(_) => return Err(err(format!("{at}.priority"), "input should be a valid integer")),
        };
        let approvers = match obj.get("approvers") {
            None => Vec::new(),
            Some(value) => string_list(value, &format!("{at}.approvers"))?,
        };
        let limit = match obj.get("limit") {
            None | Some(Json::Null) => None,
            Some(Json::String(s)) => {
                if parse_limit(s).is_none() {
                    return Err(err(
                        format!("{at}.limit"),
                        format!("invalid rate limit `{s}`: expected N/second, N/minute, N/hour or N/day with N >= 1"),
                    ));
                }
                Some(s.clone())
            }
            Some(_) => return Err(err(format!("{at}.limit"), "input should be a valid string")),
        };
        let stage = match obj.get("stage") {
            None => Stage::PreTool,
            Some(Json::String(s)) => match Stage::parse(s) {
                Some(stage) => stage,
                None => return Err(err(format!("{at}.stage"), format!("unknown stage `{s}`"))),
            },
            Some(_) => return Err(err(format!("{at}.stage"), "input should be a valid string")),
        };
        let enabled = match obj.get("enabled") {
            None => true,
            Some(Json::Bool(b)) => *b,
            Some(_) => return Err(err(format!("{at}.enabled"), "input should be a valid boolean")),
        };
        if !approvers.is_empty() && action != Action::RequireApproval {
            return Err(err(
                format!("{at}.approvers"),
                "`approvers` only applies to rules whose action is require_approval",
            ));
        }
        if limit.is_some() && action == Action::Deny {
            return Err(err(
                format!("{at}.limit"),
                "`limit` has no effect on a deny rule: a deny rule already refuses every call",
            ));
        }
        Ok(Rule { name, description, condition, action, message, priority, approvers, limit, stage, enabled })
    }

    fn to_json(&self) -> Json {
        serde_json::json!({
            "name": self.name,
            "description": self.description,
            "condition": self.condition,
            "action": self.action.as_str(),
            "message": self.message,
            "priority": self.priority,
            "approvers": self.approvers,
            "limit": self.limit,
            "stage": self.stage.as_str(),
            "enabled": self.enabled,
        })
    }
}
