package agt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
)

// The seed policy (conformance/seed-policy.yaml) as a JSON document.
const seedPolicy = `{"apiVersion": "governance.toolkit/v1", "name": "production-policy", "default_action": "allow",
 "rules": [
  {"name": "block-destructive", "condition": "action.type in ['drop', 'delete', 'truncate']", "action": "deny"},
  {"name": "require-approval-for-send", "condition": "action.type == 'send_email'", "action": "require_approval",
   "approvers": ["security-team"]}]}`

type sqlArgs struct {
	Action string         `json:"action"`
	Table  string         `json:"table"`
	Filter map[string]any `json:"filter,omitempty"`
}

type emailArgs struct {
	To      string `json:"to"`
	Subject string `json:"subject"`
}

func newGovernor(t *testing.T, policy string, opts ...Option) *Governor {
	t.Helper()
	set, err := CompilePolicies([]byte(policy))
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	g, err := New(set, opts...)
	if err != nil {
		t.Fatalf("new: %v", err)
	}
	return g
}

func verified(t *testing.T, g *Governor) []map[string]any {
	t.Helper()
	lines := g.AuditLog().Lines()
	head := g.AuditLog().Head()
	if _, err := VerifyLines(lines, head.Hash, head.Count); err != nil {
		t.Fatalf("the trail does not verify: %v", err)
	}
	out := make([]map[string]any, len(lines))
	for i, line := range lines {
		if err := json.Unmarshal([]byte(line), &out[i]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func TestAllowedCallRunsAndDeniedCallDoesNot(t *testing.T) {
	g := newGovernor(t, seedPolicy)
	ran := 0
	sql := Govern(g, "sql", func(_ context.Context, a sqlArgs) (string, error) {
		ran++
		return a.Action + " " + a.Table, nil
	})
	got, err := sql(context.Background(), sqlArgs{Action: "read", Table: "users"})
	if err != nil || got != "read users" {
		t.Fatalf("read: %q, %v", got, err)
	}
	_, err = sql(context.Background(), sqlArgs{Action: "drop", Table: "users"})
	var denied *DeniedError
	if !errors.As(err, &denied) {
		t.Fatalf("drop: expected *DeniedError, got %v", err)
	}
	if denied.Decision.RuleName() != "block-destructive" || denied.Decision.Effect != EffectDeny || denied.AuditHash == "" {
		t.Fatalf("drop: unexpected refusal %+v", denied)
	}
	if ran != 1 {
		t.Fatalf("the tool ran %d times, want 1", ran)
	}
	records := verified(t, g)
	if len(records) != 2 {
		t.Fatalf("want 2 audit records, got %d", len(records))
	}
	decision := records[1]["decision"].(map[string]any)
	if decision["rule"] != "block-destructive" || records[1]["hash"] != denied.AuditHash {
		t.Fatalf("the refusal is not the second record: %v", records[1])
	}
}

func TestEverySpellingOfAnActionIsNormalised(t *testing.T) {
	g := newGovernor(t, seedPolicy)
	sql := Govern(g, "sql", func(_ context.Context, a sqlArgs) (string, error) { return "ran", nil })
	for _, spelling := range []string{"DROP", " drop\t", "drop\x1f", "\u3000drop", "Ｄｒｏｐ", "dr\u200bop", "DELETE", "ｔｒｕｎｃａｔｅ"} {
		if _, err := sql(context.Background(), sqlArgs{Action: spelling, Table: "t"}); err == nil {
			t.Errorf("action %q was allowed", spelling)
		}
	}
}

func TestActionFromAnObjectArgument(t *testing.T) {
	g := newGovernor(t, seedPolicy)
	tool := Govern(g, "sql", func(_ context.Context, a map[string]any) (string, error) { return "ran", nil })
	if _, err := tool(context.Background(), map[string]any{"action": map[string]any{"type": "DROP"}}); err == nil {
		t.Fatal("an action object with type DROP was allowed")
	}
	if _, err := tool(context.Background(), map[string]any{"action": map[string]any{"kind": "drop"}}); err == nil {
		t.Fatal("an action object without a type was allowed")
	}
	if _, err := tool(context.Background(), map[string]any{"action": 7}); err == nil {
		t.Fatal("a numeric action was allowed")
	}
}

// What runs is what was judged: a caller (or an approval handler running between the decision
// and the call) that changes a shared map after the decision does not change what the tool gets.
func TestTheToolReceivesTheJudgedArguments(t *testing.T) {
	policy := `{"apiVersion": "governance.toolkit/v1", "name": "p", "default_action": "allow", "rules": [
	  {"name": "no-admin", "condition": "args.filter.table == 'admin'", "action": "deny"},
	  {"name": "ask", "condition": "args.table == 'audited'", "action": "require_approval", "approvers": ["ops"]}]}`
	filter := map[string]any{"table": "users"}
	approve := ApprovalFunc(func(_ context.Context, r ApprovalRequest) (ApprovalResponse, error) {
		filter["table"] = "admin" // the attack: swap the value after it was judged
		return r.Approve("ops-lead", "looks fine"), nil
	})
	g := newGovernor(t, policy, WithApprovalHandler(approve))
	var received any
	tool := Govern(g, "query", func(_ context.Context, a sqlArgs) (string, error) {
		received = a.Filter["table"]
		return "ok", nil
	})
	if _, err := tool(context.Background(), sqlArgs{Table: "audited", Filter: filter}); err != nil {
		t.Fatalf("approved call refused: %v", err)
	}
	if received != "users" {
		t.Fatalf("the tool received %v, not the judged value `users`", received)
	}
}

type withChannel struct {
	Name string        `json:"name"`
	Ch   chan struct{} `json:"ch"`
}

type lossy struct {
	Amount int `json:"amount"`
}

func (lossy) MarshalJSON() ([]byte, error) { return []byte(`{"amount": 1}`), nil }

func TestArgumentsThatCannotBeJudgedAreRefusedAndAudited(t *testing.T) {
	g := newGovernor(t, seedPolicy)
	calls := 0
	ch := Govern(g, "tool", func(_ context.Context, a withChannel) (int, error) { calls++; return 0, nil })
	nan := Govern(g, "tool", func(_ context.Context, a map[string]float64) (int, error) { calls++; return 0, nil })
	notObject := Govern(g, "tool", func(_ context.Context, a []string) (int, error) { calls++; return 0, nil })
	for name, call := range map[string]func() error{
		"channel":    func() error { _, err := ch(context.Background(), withChannel{Ch: make(chan struct{})}); return err },
		"nan":        func() error { _, err := nan(context.Background(), map[string]float64{"x": math.NaN()}); return err },
		"not-object": func() error { _, err := notObject(context.Background(), []string{"a"}); return err },
	} {
		err := call()
		var denied *DeniedError
		var request *RequestError
		if !errors.As(err, &denied) || !errors.As(err, &request) || deref(denied.Decision.RefusedBy) != "kernel:request" {
			t.Errorf("%s: expected a refusal by kernel:request wrapping a *RequestError, got %v", name, err)
		}
	}
	if calls != 0 {
		t.Fatalf("a tool with unjudgeable arguments ran %d times", calls)
	}
	if records := verified(t, g); len(records) != 3 {
		t.Fatalf("every refusal is audited: want 3 records, got %d", len(records))
	}
}

// A value whose JSON form says something else than its fields: the policy judges the JSON form,
// so that is what the tool receives.
func TestALyingMarshalerRunsWithWhatWasJudged(t *testing.T) {
	policy := `{"apiVersion": "governance.toolkit/v1", "name": "p", "default_action": "allow", "rules": [
	  {"name": "big", "condition": "args.amount > 1000", "action": "deny"}]}`
	g := newGovernor(t, policy)
	var received int
	pay := Govern(g, "pay", func(_ context.Context, a lossy) (int, error) { received = a.Amount; return 0, nil })
	if _, err := pay(context.Background(), lossy{Amount: 5000}); err != nil {
		t.Fatalf("judged amount 1 was refused: %v", err)
	}
	if received != 1 {
		t.Fatalf("the tool received amount %d; it was judged as 1", received)
	}
}

// A Go float stays a CEL double: `1000.0 / 2` has no overload, so the deny rule errors and
// matches (fail closed), as in Python; an int argument divides.
func TestFloatsStayDoubles(t *testing.T) {
	policy := `{"apiVersion": "governance.toolkit/v1", "name": "p", "default_action": "allow", "rules": [
	  {"name": "half", "condition": "args.amount / 2 > 100", "action": "deny"}]}`
	g := newGovernor(t, policy)
	floats := Govern(g, "pay", func(_ context.Context, a map[string]float64) (int, error) { return 1, nil })
	ints := Govern(g, "pay", func(_ context.Context, a map[string]int) (int, error) { return 1, nil })
	_, err := floats(context.Background(), map[string]float64{"amount": 100})
	var denied *DeniedError
	if !errors.As(err, &denied) || len(denied.Decision.Matched) != 1 || !denied.Decision.Matched[0].Errored {
		t.Fatalf("float amount: expected an errored deny, got %v", err)
	}
	if _, err := ints(context.Background(), map[string]int{"amount": 100}); err != nil {
		t.Fatalf("int amount 100 / 2 = 50: expected allow, got %v", err)
	}
}

func TestApprovals(t *testing.T) {
	send := func(g *Governor) func(context.Context, emailArgs) (string, error) {
		return Govern(g, "send_email", func(_ context.Context, a emailArgs) (string, error) { return "sent", nil })
	}
	args := emailArgs{To: "a@example.com", Subject: "hi"}
	ctx := context.Background()

	t.Run("refused without a handler, with help", func(t *testing.T) {
		g := newGovernor(t, seedPolicy)
		_, err := send(g)(ctx, args)
		var denied *DeniedError
		if !errors.As(err, &denied) || denied.Approval == nil || denied.Approval.Handler != "DenyApprovals" || denied.Help == "" {
			t.Fatalf("expected a refusal naming DenyApprovals with help, got %v", err)
		}
		if got := denied.Decision.Approvers; len(got) != 1 || got[0] != "security-team" {
			t.Fatalf("approvers: %v", got)
		}
	})
	t.Run("approved, recorded with the approver", func(t *testing.T) {
		var asked ApprovalRequest
		g := newGovernor(t, seedPolicy, WithApprovalHandler(ApprovalFunc(func(_ context.Context, r ApprovalRequest) (ApprovalResponse, error) {
			asked = r
			return r.Approve("alice", "checked"), nil
		})))
		if got, err := send(g)(ctx, args); err != nil || got != "sent" {
			t.Fatalf("approved call: %q, %v", got, err)
		}
		hash, _ := ContentHash(asked.Request)
		if asked.RequestHash != hash || !strings.HasPrefix(hash, "sha256:") {
			t.Fatalf("the approval request hash %q is not the hash of its request %q", asked.RequestHash, hash)
		}
		approval := verified(t, g)[0]["approval"].(map[string]any)
		if approval["approved"] != true || approval["approver"] != "alice" || approval["handler"] != "ApprovalFunc" ||
			approval["request_hash"] != asked.RequestHash {
			t.Fatalf("approval record: %v", approval)
		}
	})
	t.Run("an approval of another request is not replayed", func(t *testing.T) {
		var first ApprovalResponse
		g := newGovernor(t, seedPolicy, WithApprovalHandler(ApprovalFunc(func(_ context.Context, r ApprovalRequest) (ApprovalResponse, error) {
			if first.RequestHash == "" {
				first = r.Approve("alice", "")
			}
			return first, nil // the stored approval of the first request, answered for every later one
		})))
		if _, err := send(g)(ctx, args); err != nil {
			t.Fatalf("first call: %v", err)
		}
		_, err := send(g)(ctx, emailArgs{To: "attacker@example.com", Subject: "exfil"})
		var denied *DeniedError
		if !errors.As(err, &denied) || !strings.Contains(denied.Approval.Reason, "different request") {
			t.Fatalf("replayed approval: expected a refusal, got %v", err)
		}
		unbound := newGovernor(t, seedPolicy, WithApprovalHandler(ApprovalFunc(func(context.Context, ApprovalRequest) (ApprovalResponse, error) {
			return ApprovalResponse{Approved: true, Approver: "mallory"}, nil
		})))
		if _, err := send(unbound)(ctx, args); err == nil {
			t.Fatal("an approval bound to no request was accepted")
		}
	})
	t.Run("a failing or panicking handler refuses, is recorded, and is reported", func(t *testing.T) {
		for name, h := range map[string]ApprovalFunc{
			"error": func(context.Context, ApprovalRequest) (ApprovalResponse, error) {
				return ApprovalResponse{}, errors.New("pager down")
			},
			"panic": func(context.Context, ApprovalRequest) (ApprovalResponse, error) { panic("boom") },
		} {
			g := newGovernor(t, seedPolicy, WithApprovalHandler(h))
			_, err := send(g)(ctx, args)
			var failed *ApprovalError
			if !errors.As(err, &failed) || failed.Rule != "require-approval-for-send" {
				t.Fatalf("%s: expected *ApprovalError, got %v", name, err)
			}
			approval := verified(t, g)[0]["approval"].(map[string]any)
			if approval["approved"] != false || !strings.Contains(approval["reason"].(string), "approval handler failed") {
				t.Fatalf("%s: record %v", name, approval)
			}
		}
	})
	t.Run("a handler that never answers is refused at the timeout", func(t *testing.T) {
		release := make(chan struct{})
		defer close(release)
		g := newGovernor(t, seedPolicy, WithApprovalTimeout(1), WithApprovalHandler(ApprovalFunc(
			func(context.Context, ApprovalRequest) (ApprovalResponse, error) {
				<-release // ignores its context: the kernel must not wait for it
				return ApprovalResponse{Approved: true}, nil
			})))
		_, err := send(g)(ctx, args)
		var denied *DeniedError
		if !errors.As(err, &denied) || !strings.Contains(denied.Approval.Reason, "no answer") {
			t.Fatalf("expected a refusal for no answer, got %v", err)
		}
	})
	t.Run("pending", func(t *testing.T) {
		g := newGovernor(t, seedPolicy, WithApprovalHandler(ApprovalFunc(func(context.Context, ApprovalRequest) (ApprovalResponse, error) {
			return ApprovalResponse{}, fmt.Errorf("ticket OPS-7 opened: %w", ErrApprovalPending)
		})))
		_, err := send(g)(ctx, args)
		var denied *DeniedError
		if !errors.As(err, &denied) || !denied.Approval.Pending || !strings.Contains(denied.Approval.Reason, "OPS-7") {
			t.Fatalf("expected a pending refusal, got %v", err)
		}
	})
}

func TestRateLimits(t *testing.T) {
	policy := `{"apiVersion": "governance.toolkit/v1", "name": "p", "default_action": "deny", "rules": [
	  {"name": "search", "condition": "action.type == 'search'", "action": "allow", "limit": "2/minute"}]}`
	now := 0.0
	g := newGovernor(t, policy, WithRateLimitClock(func() float64 { return now }))
	search := Govern(g, "search", func(context.Context, map[string]string) (int, error) { return 1, nil })
	other := Govern(g, "search", func(context.Context, map[string]string) (int, error) { return 1, nil })
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		if _, err := search(ctx, map[string]string{"q": "x"}); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	_, err := other(ctx, map[string]string{"q": "x"}) // another wrapper of the same governor shares the limit
	var denied *DeniedError
	if !errors.As(err, &denied) || !denied.Decision.RateLimited || denied.Decision.RuleName() != "search" {
		t.Fatalf("third call: expected a rate-limited deny, got %v", err)
	}
	if _, err := search(ContextWithAgent(ctx, "other-agent", nil), map[string]string{"q": "x"}); err != nil {
		t.Fatalf("limits count per agent: %v", err)
	}
	now = 60
	if _, err := search(ctx, map[string]string{"q": "x"}); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

func TestContextAndAgentReachConditions(t *testing.T) {
	policy := `{"apiVersion": "governance.toolkit/v1", "name": "p", "default_action": "deny", "rules": [
	  {"name": "on-call", "condition": "context.ticket.startsWith('OPS-') && agent.team == 'sre'", "action": "allow"}]}`
	g := newGovernor(t, policy, WithAgent("bot-1", map[string]any{"team": "sre"}))
	restart := Govern(g, "restart", func(context.Context, map[string]string) (int, error) { return 1, nil })
	if _, err := restart(context.Background(), map[string]string{}); err == nil {
		t.Fatal("allowed without a ticket")
	}
	ctx := ContextWithFields(context.Background(), map[string]any{"ticket": "OPS-12"})
	if _, err := restart(ctx, map[string]string{}); err != nil {
		t.Fatalf("with a ticket: %v", err)
	}
	if _, err := restart(ContextWithAgent(ctx, "intruder", map[string]any{"team": "dev"}), map[string]string{}); err == nil {
		t.Fatal("another agent's team was ignored")
	}
}

func TestAuditFailureMeansTheCallDoesNotRun(t *testing.T) {
	log := NewAuditLog().WithSink(func(string) error { return errors.New("disk full") })
	g := newGovernor(t, seedPolicy, WithAuditLog(log))
	ran := false
	read := Govern(g, "sql", func(context.Context, sqlArgs) (int, error) { ran = true; return 1, nil })
	_, err := read(context.Background(), sqlArgs{Action: "read"})
	var auditErr *AuditError
	if !errors.As(err, &auditErr) || ran || log.Len() != 0 {
		t.Fatalf("expected *AuditError and no call, got %v (ran %v, %d records)", err, ran, log.Len())
	}
}

func TestAMalformedRequestIsDeniedNeverAllowed(t *testing.T) {
	g := newGovernor(t, seedPolicy)
	for _, request := range []string{`not json`, `{"action": {"type": "read"}, "a": 1, "a": 2}`, `[]`, `{"agent": {"id": 5}}`, "{\"x\": \"\x00\"}"} {
		outcome, err := g.Enforce(context.Background(), []byte(request))
		if err != nil || outcome.Allowed || outcome.Decision.Effect != EffectDeny {
			t.Errorf("request %q: allowed=%v err=%v", request, outcome.Allowed, err)
		}
	}
	verified(t, g)
}

func TestPostToolRulesJudgeTheResult(t *testing.T) {
	policy := `{"apiVersion": "governance.toolkit/v1", "name": "p", "default_action": "allow", "rules": [
	  {"name": "no-secrets-out", "stage": "post_tool", "condition": "result.contains('BEGIN PRIVATE KEY')", "action": "deny"}]}`
	g := newGovernor(t, policy)
	read := Govern(g, "read_file", func(_ context.Context, a map[string]string) (string, error) { return a["content"], nil })
	if got, err := read(context.Background(), map[string]string{"content": "hello"}); err != nil || got != "hello" {
		t.Fatalf("plain result: %q %v", got, err)
	}
	got, err := read(context.Background(), map[string]string{"content": "-----BEGIN PRIVATE KEY-----"})
	if err == nil || got != "" {
		t.Fatalf("a refused result was returned: %q, %v", got, err)
	}
}

func TestConcurrentCallsKeepOneChain(t *testing.T) {
	g := newGovernor(t, seedPolicy)
	sql := Govern(g, "sql", func(context.Context, sqlArgs) (int, error) { return 1, nil })
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for j := 0; j < 20; j++ {
				action := "read"
				if j%3 == 0 {
					action = "drop"
				}
				_, _ = sql(context.Background(), sqlArgs{Action: action, Table: fmt.Sprint(i)})
			}
		}(i)
	}
	wg.Wait()
	if records := verified(t, g); len(records) != 320 {
		t.Fatalf("want 320 records, got %d", len(records))
	}
}

func TestTamperedTrailsAreRejected(t *testing.T) {
	g := newGovernor(t, seedPolicy)
	sql := Govern(g, "sql", func(context.Context, sqlArgs) (int, error) { return 1, nil })
	for _, action := range []string{"read", "drop", "read"} {
		_, _ = sql(context.Background(), sqlArgs{Action: action})
	}
	lines := g.AuditLog().Lines()
	head := g.AuditLog().Head()
	flip := append([]string(nil), lines...)
	flip[1] = strings.Replace(flip[1], `"effect":"deny"`, `"effect":"allow"`, 1)
	for name, trail := range map[string][]string{
		"decision edited": flip,
		"record removed":  {lines[0], lines[2]},
		"records swapped": {lines[1], lines[0], lines[2]},
		"end cut off":     lines[:2],
	} {
		if _, err := VerifyLines(trail, head.Hash, head.Count); err == nil {
			t.Errorf("%s: the trail verified", name)
		}
	}
	if _, err := VerifyLines(lines, "", -1); err == nil {
		t.Error("an unpinned verification was accepted without asking for it")
	}
	if _, err := VerifyLinesUnpinned(lines[:2]); err != nil {
		t.Errorf("an unpinned prefix is internally consistent: %v", err)
	}
}
