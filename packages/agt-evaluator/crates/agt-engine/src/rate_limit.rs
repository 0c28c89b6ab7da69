//! Rate limits: a rule's `limit: "N/period"`, enforced per (agent, policy, rule).
//!
//! A sliding log: for each key the times of the calls that counted, at most N of them, so "N per
//! period" holds over every window of that length. The caller passes the time (a monotonic
//! clock in production, a fake one in tests), so the limiter itself never reads a clock.

use std::collections::{HashMap, VecDeque};

use crate::policy::{parse_limit, Action};
use crate::policy_set::{Decision, PolicySet};

type LimitKey = (String, String, String);

/// Counts calls per (agent, policy, rule) and refuses the one that would exceed a limit.
#[derive(Default)]
pub struct RateLimiter {
    windows: HashMap<LimitKey, VecDeque<f64>>,
}

/// The first exhausted limit: policy, rule, limit text and seconds until a call frees up.
#[derive(Clone, Debug, PartialEq)]
pub struct Exhausted {
    pub policy: String,
    pub rule: String,
    pub limit: String,
    pub retry_after: f64,
}

impl RateLimiter {
    /// An empty limiter.
    pub fn new() -> RateLimiter {
        RateLimiter::default()
    }

    /// Records one call at `now` against every `(policy, rule, limit)`, if all have room;
    /// otherwise records nothing and names the first exhausted limit.
    pub fn acquire(&mut self, agent_id: &str, rules: &[(String, String, String)], now: f64) -> Option<Exhausted> {
        let mut specs = Vec::with_capacity(rules.len());
        for (policy, rule, limit) in rules {
            let (count, period) = parse_limit(limit)?;
            specs.push(((agent_id.to_string(), policy.clone(), rule.clone()), limit.clone(), count, period));
        }
        for (key, limit, count, period) in &specs {
            let Some(window) = self.windows.get_mut(key) else { continue };
            let horizon = now - period;
            while window.front().is_some_and(|&t| t <= horizon) {
                window.pop_front();
            }
            if window.len() >= *count as usize {
                let first = window.front().copied().unwrap_or(now);
                return Some(Exhausted {
                    policy: key.1.clone(),
                    rule: key.2.clone(),
                    limit: limit.clone(),
                    retry_after: first + period - now,
                });
            }
        }
        for (key, _, _, _) in specs {
            self.windows.entry(key).or_default().push_back(now);
        }
        None
    }

    /// Applies the limits of every matched rule to a decision, as the kernel does: a decision that
    /// is not a deny counts against each limit of its matched rules, and the call that would
    /// exceed one becomes a deny naming the limited rule.
    pub fn apply(&mut self, set: &PolicySet, decision: Decision, agent_id: &str, now: f64) -> Decision {
        if decision.effect == Action::Deny || decision.matched.is_empty() {
            return decision;
        }
        let limits = set.limits();
        let limited: Vec<(String, String, String)> = decision
            .matched
            .iter()
            .filter_map(|m| {
                limits
                    .iter()
                    .find(|(p, r, _)| *p == m.policy && *r == m.rule)
                    .map(|(p, r, l)| (p.to_string(), r.to_string(), l.to_string()))
            })
            .collect();
        if limited.is_empty() {
            return decision;
        }
        let Some(hit) = self.acquire(agent_id, &limited, now) else {
            return decision;
        };
        let policy_hash = set.policy_hashes().into_iter().find(|(n, _)| *n == hit.policy).map(|(_, h)| h.to_string());
        Decision {
            effect: Action::Deny,
            message: format!(
                "rate limit `{}` of rule `{}` is exhausted for agent `{agent_id}`; retry in {:.1} s",
                hit.limit,
                hit.rule,
                hit.retry_after.max(0.0)
            ),
            rule: Some(hit.rule),
            policy: Some(hit.policy),
            policy_hash,
            approvers: Vec::new(),
            rate_limited: true,
            ..decision
        }
    }
}
