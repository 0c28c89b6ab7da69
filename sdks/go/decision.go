package agt

import (
	"encoding/json"
	"fmt"
)

// Effect is what a decision concluded: the action of the rule or default that decided it.
type Effect string

// The effects a decision can have. Allow, Warn and Log let the call run; Warn and Log mean an
// annotating rule matched (they never grant on their own).
const (
	EffectAllow           Effect = "allow"
	EffectDeny            Effect = "deny"
	EffectRequireApproval Effect = "require_approval"
	EffectWarn            Effect = "warn"
	EffectLog             Effect = "log"
)

// MatchedRule is a rule whose condition held for the request, or errored in a restrictive rule.
type MatchedRule struct {
	Policy   string `json:"policy"`
	Rule     string `json:"rule"`
	Action   Effect `json:"action"`
	Priority int64  `json:"priority"`
	// Errored is true when the rule counts as matched only because its condition failed (fail closed).
	Errored bool `json:"errored"`
}

// RuleError is one evaluation error: a condition that failed on this request, or a refusal.
type RuleError struct {
	Policy  *string `json:"policy"`
	Rule    *string `json:"rule"`
	Message string  `json:"message"`
}

// Decision is the outcome of judging one request, with the same fields as agt-core's Decision,
// so an audit record written here reads the same as one written by the Python toolkit.
type Decision struct {
	Effect           Effect        `json:"effect"`
	Allowed          bool          `json:"allowed"`
	Rule             *string       `json:"rule"`
	Policy           *string       `json:"policy"`
	PolicyHash       *string       `json:"policy_hash"`
	PolicySetHash    *string       `json:"policy_set_hash"`
	Message          string        `json:"message"`
	Stage            string        `json:"stage"`
	Matched          []MatchedRule `json:"matched"`
	Errors           []RuleError   `json:"errors"`
	ConflictStrategy *string       `json:"conflict_strategy"`
	Approvers        []string      `json:"approvers"`
	RateLimited      bool          `json:"rate_limited"`
	// RefusedBy names who refused when the policy did not decide (kernel:request, kernel:evaluator,
	// kernel:approval, ...); nil when the policy decided.
	RefusedBy *string `json:"refused_by"`
	// Evaluator is the evaluator that reached the decision ("native" for the Rust engine); nil
	// when none took part (a refusal before evaluation).
	Evaluator *string `json:"evaluator"`
}

// MarshalJSON writes every field (empty lists as [], absent values as null), as agt-core does.
func (d Decision) MarshalJSON() ([]byte, error) {
	type plain Decision
	p := plain(d)
	if p.Matched == nil {
		p.Matched = []MatchedRule{}
	}
	if p.Errors == nil {
		p.Errors = []RuleError{}
	}
	if p.Approvers == nil {
		p.Approvers = []string{}
	}
	return json.Marshal(p)
}

// RuleName is the deciding rule's name, or "" when a default decided or the request was refused.
func (d Decision) RuleName() string { return deref(d.Rule) }

// PolicyName is the deciding policy's name, or "" when no policy decided.
func (d Decision) PolicyName() string { return deref(d.Policy) }

// Summary is one line: the effect, who decided, and why.
func (d Decision) Summary() string {
	var who string
	switch {
	case d.Rule != nil:
		who = fmt.Sprintf("rule `%s` of policy `%s`", *d.Rule, deref(d.Policy))
	case d.RefusedBy != nil:
		who = *d.RefusedBy
	case d.Policy != nil:
		who = fmt.Sprintf("the default of policy `%s`", *d.Policy)
	default:
		who = "the kernel"
	}
	text := fmt.Sprintf("%s by %s", d.Effect, who)
	if d.RateLimited {
		text += " (rate limited)"
	}
	if d.Message != "" {
		text += ": " + d.Message
	}
	if n := len(d.Errors); n > 0 {
		plural := ""
		if n > 1 {
			plural = "s"
		}
		text += fmt.Sprintf(" [%d error%s]", n, plural)
	}
	return text
}

// String is Summary.
func (d Decision) String() string { return d.Summary() }

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func ptr(s string) *string { return &s }
