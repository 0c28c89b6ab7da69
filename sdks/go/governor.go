package agt

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Governor runs the governed-call pipeline for one compiled policy set: evaluate (in the Rust
// engine), apply rate limits, ask the approval handler for require_approval, record the outcome
// in the audit log, and say whether the call may run. Every refusal takes the same audited path.
// A Governor is safe for concurrent use; tools governed by the same Governor share its rate
// limits and its audit log.
type Governor struct {
	policy          *PolicySet
	audit           *AuditLog
	approval        ApprovalHandler
	approvalTimeout time.Duration
	limiter         *nativeLimiter
	agent           map[string]any
	context         map[string]any
	agentJSON       []byte
	contextJSON     []byte
	now             func() time.Time
	clock           func() float64
	postTool        bool
}

// Option configures a Governor.
type Option func(*Governor) error

// WithAgent sets the acting agent: its id (agent.id in conditions, "default" when not set) and
// optional attributes (agent.<name>).
func WithAgent(id string, attributes map[string]any) Option {
	return func(g *Governor) error {
		agent := map[string]any{}
		for k, v := range attributes {
			agent[k] = v
		}
		agent["id"] = id
		g.agent = agent
		return nil
	}
}

// WithContext sets fixed context for every call (context.<name> in conditions).
func WithContext(fields map[string]any) Option {
	return func(g *Governor) error {
		g.context = fields
		return nil
	}
}

// WithApprovalHandler sets who decides require_approval decisions (default: DenyApprovals).
func WithApprovalHandler(h ApprovalHandler) Option {
	return func(g *Governor) error {
		if h == nil {
			return fmt.Errorf("approval handler is nil; leave the option out to refuse approvals")
		}
		g.approval = h
		return nil
	}
}

// WithApprovalTimeout sets how long to wait for the approval handler before refusing (default
// 300 s; 0 waits forever).
func WithApprovalTimeout(d time.Duration) Option {
	return func(g *Governor) error {
		if d < 0 {
			return fmt.Errorf("approval timeout must not be negative, got %s", d)
		}
		g.approvalTimeout = d
		return nil
	}
}

// WithAuditLog records decisions in log (default: a new in-memory AuditLog). Pass nil to turn
// auditing off.
func WithAuditLog(log *AuditLog) Option {
	return func(g *Governor) error {
		g.audit = log
		return nil
	}
}

// WithRateLimitClock sets the monotonic clock (seconds) rate limits count on; tests use it to
// step time. The default is the process's monotonic clock.
func WithRateLimitClock(now func() float64) Option {
	return func(g *Governor) error {
		g.clock = now
		return nil
	}
}

// WithTimeSource sets where audit and approval timestamps come from (default time.Now).
func WithTimeSource(now func() time.Time) Option {
	return func(g *Governor) error {
		g.now = now
		return nil
	}
}

// New returns a Governor over a compiled policy set.
func New(policy *PolicySet, opts ...Option) (*Governor, error) {
	if policy == nil {
		return nil, &PolicyError{Message: "policy set is nil", Help: "compile one with LoadPolicyFile or CompilePolicies"}
	}
	start := time.Now()
	defaultLog := NewAuditLog()
	g := &Governor{
		policy:          policy,
		audit:           defaultLog,
		approval:        DenyApprovals{},
		approvalTimeout: DefaultApprovalTimeout,
		agent:           map[string]any{"id": "default"},
		context:         map[string]any{},
		now:             time.Now,
		clock:           func() float64 { return time.Since(start).Seconds() },
		postTool:        contains(policy.info.Stages, "post_tool"),
	}
	for _, opt := range opts {
		if err := opt(g); err != nil {
			return nil, err
		}
	}
	limiter, err := newNativeLimiter()
	if err != nil {
		return nil, err
	}
	g.limiter = limiter
	if g.agentJSON, err = encodeObject(g.agent, "agent"); err != nil {
		return nil, err
	}
	if g.contextJSON, err = encodeObject(g.context, "context"); err != nil {
		return nil, err
	}
	if g.audit == defaultLog {
		defaultLog.now = g.now // WithTimeSource stamps the records of the log it comes with
	}
	return g, nil
}

// NewFromFile loads a policy file and returns a Governor over it.
func NewFromFile(path string, opts ...Option) (*Governor, error) {
	policy, err := LoadPolicyFile(path)
	if err != nil {
		return nil, err
	}
	return New(policy, opts...)
}

// Policy is the governor's compiled policy set.
func (g *Governor) Policy() *PolicySet { return g.policy }

// AuditLog is where the governor records decisions (nil when auditing is off).
func (g *Governor) AuditLog() *AuditLog { return g.audit }

// Enforcement is the outcome of one pass through the pipeline.
type Enforcement struct {
	// Allowed says whether the call may run: the decision allows, or an approval was given.
	Allowed  bool
	Decision Decision
	// Approval is the approval record when the decision required one.
	Approval *ApprovalRecord
	// AuditHash is the hash of this outcome's audit record ("" without an audit log).
	AuditHash string
	// Request is the canonical JSON of the request that was judged.
	Request json.RawMessage
}

// Enforce runs the pipeline on one request (JSON data: action, args, agent, context, stage).
// A refusal is not an error: the Enforcement says Allowed false. The error is *AuditError when
// the outcome could not be recorded (the call must not run) and *ApprovalError when the
// approval handler failed (the refusal was recorded first).
func (g *Governor) Enforce(ctx context.Context, request []byte) (Enforcement, error) {
	canonical, err := CanonicalJSON(request)
	if err != nil {
		known, _ := json.Marshal(map[string]string{"unreadable_request": truncate(string(request), 200)})
		return g.Refuse(known, fmt.Sprintf("request could not be read: %v", err), "kernel:request")
	}
	// The engine judges the request as given: canonical JSON writes the double 100.0 as `100`,
	// which a condition would read as an int. The canonical form is what the audit records.
	decision := g.Decide(request)
	if decision.Effect != EffectRequireApproval {
		return g.finish(canonical, decision, nil)
	}
	hash, err := ContentHash(canonical)
	if err != nil {
		return g.Refuse(canonical, fmt.Sprintf("request could not be hashed for approval: %v", err), "kernel:approval")
	}
	approvalRequest := ApprovalRequest{Decision: decision, Request: append(json.RawMessage(nil), canonical...), RequestHash: hash}
	outcome := ask(ctx, g.approval, g.approvalTimeout, approvalRequest, g.now)
	enforcement, err := g.finish(canonical, decision, outcome.record)
	if err != nil {
		return enforcement, err
	}
	if outcome.failed != nil {
		return enforcement, &ApprovalError{Rule: decision.RuleName(), Message: outcome.failed.Error(), Err: outcome.failed}
	}
	return enforcement, nil
}

// Decide evaluates a request and applies rate limits (a call counts against the limits of its
// matched rules). Any failure of the engine is a deny naming it, never an allow.
func (g *Governor) Decide(request []byte) Decision {
	out, err := g.policy.native.decide(g.limiter, request, g.clock())
	if err == nil {
		var decision Decision
		if decision, err = parseDecision(out); err == nil {
			return decision
		}
	}
	if _, ok := err.(*RequestError); ok {
		return g.refusal(fmt.Sprintf("request could not be judged: %v", err), stageOf(request), "kernel:request")
	}
	return g.refusal(fmt.Sprintf("the policy evaluator failed: %v", err), stageOf(request), "kernel:evaluator")
}

// Refuse records and returns a refusal decided outside the policy (by names who refused, e.g.
// "guard:kill-switch"). request is what was being attempted, as JSON data.
func (g *Governor) Refuse(request []byte, reason, by string) (Enforcement, error) {
	canonical, err := CanonicalJSON(request)
	if err != nil {
		canonical, _ = json.Marshal(map[string]string{"unreadable_request": truncate(string(request), 200)})
	}
	return g.finish(canonical, g.refusal(reason, stageOf(canonical), by), nil)
}

func (g *Governor) refusal(reason, stage, by string) Decision {
	return Decision{
		Effect:        EffectDeny,
		Allowed:       false,
		PolicySetHash: ptr(g.policy.Hash()),
		Message:       reason,
		Stage:         stage,
		Errors:        []RuleError{{Message: reason}},
		RefusedBy:     ptr(by),
	}
}

func (g *Governor) finish(request []byte, decision Decision, approval *ApprovalRecord) (Enforcement, error) {
	allowed := decision.Allowed || (approval != nil && approval.Approved)
	e := Enforcement{Allowed: allowed, Decision: decision, Approval: approval, Request: request}
	if g.audit != nil {
		hash, err := g.audit.Append(request, decision, approval)
		if err != nil {
			e.Allowed = false
			return e, &AuditError{
				Message: "the call was refused because its decision could not be recorded: " + err.Error(),
				Err:     err,
			}
		}
		e.AuditHash = hash
	}
	return e, nil
}

var stages = []string{"pre_input", "pre_tool", "post_tool", "pre_output"}

func stageOf(request []byte) string {
	var r struct {
		Stage any `json:"stage"`
	}
	if json.Unmarshal(request, &r) == nil {
		if s, ok := r.Stage.(string); ok && contains(stages, s) {
			return s
		}
	}
	return "pre_tool"
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

func encodeObject(fields map[string]any, where string) ([]byte, error) {
	data, err := encodeArgs(fields)
	if err != nil {
		if re, ok := err.(*RequestError); ok {
			re.Message = where + ": " + re.Message
		}
		return nil, err
	}
	return data, nil
}

func contains(list []string, item string) bool {
	for _, x := range list {
		if x == item {
			return true
		}
	}
	return false
}
