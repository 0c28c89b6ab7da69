//! Rego policies evaluated in process by regorus, Microsoft's Rego interpreter written in Rust.
//!
//! A [`RegoPolicy`] is compiled once from its modules and data documents; each evaluation sets
//! the request as `input` and evaluates the named rules under a cooperative time limit. Every
//! failure (parse, compile, an undefined builtin, a runtime error, the time limit) is an
//! [`RegoError`] the caller turns into a deny: nothing here decides, it only reports values.

use std::num::NonZeroU32;
use std::time::Duration;

use regorus::utils::limits::ExecutionTimerConfig;
use regorus::{Engine, Value};

/// A failure to load or evaluate, with the engine's message (which names file, line and column
/// for parse and compile errors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegoError {
    /// What went wrong, as the engine words it.
    pub message: String,
    /// Whether the evaluation ran out of time (the caller reports it as such).
    pub timed_out: bool,
}

impl std::fmt::Display for RegoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for RegoError {}

fn error(err: impl std::fmt::Display) -> RegoError {
    let message = format!("{err:#}");
    let timed_out = message.contains("time limit") || message.contains("execution timer");
    RegoError { message, timed_out }
}

/// One compiled Rego policy: its modules, its data documents and the rules that decide.
#[derive(Clone)]
pub struct RegoPolicy {
    engine: Engine,
    packages: Vec<String>,
}

impl RegoPolicy {
    /// Parse `modules` (path, text) and merge `data` (JSON texts, in order) into one engine.
    ///
    /// `time_limit` bounds each later evaluation (cooperatively: the interpreter checks the
    /// clock every few work units).
    pub fn compile(
        modules: &[(String, String)],
        data: &[String],
        time_limit: Duration,
    ) -> Result<RegoPolicy, RegoError> {
        let mut engine = Engine::new();
        engine.set_strict_builtin_errors(true);
        engine.set_execution_timer_config(ExecutionTimerConfig { limit: time_limit, check_interval: NonZeroU32::MIN });
        let mut packages = Vec::with_capacity(modules.len());
        for (path, text) in modules {
            packages.push(engine.add_policy(path.clone(), text.clone()).map_err(error)?);
        }
        for document in data {
            engine.add_data_json(document).map_err(error)?;
        }
        Ok(RegoPolicy { engine, packages })
    }

    /// The packages of the modules, as regorus names them (`data.<package>`), in module order.
    pub fn packages(&self) -> &[String] {
        &self.packages
    }

    /// Whether the module at `path` declares a rule at `rule` (e.g. `data.agt.decision`).
    pub fn declares(&self, path: &str, rule: &str) -> Result<bool, RegoError> {
        self.engine.has_declared_rule_rooted_at(path, rule).map_err(error)
    }

    /// Evaluate each rule in `rules` with `input_json` as `input`: its value as JSON text, or
    /// `None` where the rule is undefined for this input.
    pub fn evaluate(&mut self, input_json: &str, rules: &[String]) -> Result<Vec<Option<String>>, RegoError> {
        self.engine.set_input_json(input_json).map_err(error)?;
        let mut out = Vec::with_capacity(rules.len());
        for rule in rules {
            let value = self.engine.eval_rule(rule.clone()).map_err(error)?;
            out.push(match value {
                Value::Undefined => None,
                other => Some(other.to_json_str().map_err(error)?),
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(text: &str) -> Result<RegoPolicy, RegoError> {
        RegoPolicy::compile(&[("p.rego".into(), text.into())], &[], Duration::from_millis(500))
    }

    #[test]
    fn decides_from_input_and_data() -> Result<(), RegoError> {
        let mut p = RegoPolicy::compile(
            &[(
                "p.rego".into(),
                "package agt\ndefault decision := {\"effect\": \"deny\"}\n\
                 decision := {\"effect\": \"allow\"} if input.action.type in data.allowed\n"
                    .into(),
            )],
            &[r#"{"allowed": ["read"]}"#.into()],
            Duration::from_millis(500),
        )?;
        assert_eq!(p.packages(), ["data.agt"]);
        let rules = ["data.agt.decision".to_string()];
        let read = p.evaluate(r#"{"action": {"type": "read"}}"#, &rules)?;
        assert!(read[0].as_deref().is_some_and(|v| v.contains("allow")), "{read:?}");
        let drop = p.evaluate(r#"{"action": {"type": "drop"}}"#, &rules)?;
        assert!(drop[0].as_deref().is_some_and(|v| v.contains("deny")));
        Ok(())
    }

    #[test]
    fn undefined_is_none_and_syntax_errors_name_the_line() -> Result<(), RegoError> {
        let mut p = policy("package agt\nallow if input.x == 1\n")?;
        assert_eq!(p.evaluate("{}", &["data.agt.allow".to_string()])?, [None]);
        let Err(bad) = policy("package agt\nallow if {{ input.x ==\n") else {
            return Err(error("a syntax error compiled"));
        };
        assert!(bad.message.contains("p.rego:3:1"), "{}", bad.message);
        Ok(())
    }

    #[test]
    fn a_runaway_evaluation_stops_at_the_time_limit() -> Result<(), RegoError> {
        let mut p = RegoPolicy::compile(
            &[(
                "p.rego".into(),
                "package agt\nallow if count([x | some i in numbers.range(1, 20000); some j in numbers.range(1, 20000); x := i * j]) > 0\n"
                    .into(),
            )],
            &[],
            Duration::from_millis(50),
        )?;
        let Err(err) = p.evaluate("{}", &["data.agt.allow".to_string()]) else {
            return Err(error("a 4*10^8-step comprehension finished within 50 ms"));
        };
        assert!(err.timed_out, "{}", err.message);
        Ok(())
    }
}
