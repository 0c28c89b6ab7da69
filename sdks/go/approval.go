package agt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"time"
)

// DefaultApprovalTimeout is how long a governed call waits for the approval handler before
// refusing: a hung handler never blocks a call forever.
const DefaultApprovalTimeout = 300 * time.Second

// ApprovalRequest is what an approver is asked to decide.
type ApprovalRequest struct {
	// Decision is the require_approval decision (rule, message, approvers).
	Decision Decision
	// Request is the canonical JSON of the judged request (action, args, agent, context, stage).
	Request json.RawMessage
	// RequestHash is "sha256:<hex>" of Request; an approval covers exactly this request.
	RequestHash string
}

// Approvers are who the policy says may approve.
func (r ApprovalRequest) Approvers() []string { return r.Decision.Approvers }

// Approve answers yes for exactly this request (bound to its hash, so it cannot be replayed onto another).
func (r ApprovalRequest) Approve(approver, reason string) ApprovalResponse {
	return ApprovalResponse{Approved: true, Approver: approver, Reason: reason, RequestHash: r.RequestHash}
}

// Refuse answers no.
func (r ApprovalRequest) Refuse(approver, reason string) ApprovalResponse {
	return ApprovalResponse{Approved: false, Approver: approver, Reason: reason, RequestHash: r.RequestHash}
}

// ApprovalResponse is an approval handler's answer. Build it with ApprovalRequest.Approve or
// Refuse: an approval must carry the hash of the request it approves, and one that does not
// match is recorded as a refusal.
type ApprovalResponse struct {
	Approved bool
	// Approver is who decided; "" records nobody.
	Approver string
	Reason   string
	// RequestHash must equal the ApprovalRequest's RequestHash for an approval to count.
	RequestHash string
}

// ApprovalHandler decides require_approval decisions. Return ErrApprovalPending (possibly
// wrapped) when the decision was handed to a person out of band: the call is refused for now and
// recorded as pending. Any other error, or a panic, refuses the call, is recorded, and is returned
// to the caller as *ApprovalError. The context is cancelled when the approval timeout passes.
type ApprovalHandler interface {
	Approve(ctx context.Context, request ApprovalRequest) (ApprovalResponse, error)
}

// ApprovalFunc adapts a function to ApprovalHandler.
type ApprovalFunc func(ctx context.Context, request ApprovalRequest) (ApprovalResponse, error)

// Approve calls f.
func (f ApprovalFunc) Approve(ctx context.Context, request ApprovalRequest) (ApprovalResponse, error) {
	return f(ctx, request)
}

// DenyApprovals is the default handler: it refuses every approval request.
type DenyApprovals struct{}

// Approve refuses.
func (DenyApprovals) Approve(_ context.Context, request ApprovalRequest) (ApprovalResponse, error) {
	return request.Refuse("", "no approval handler is configured"), nil
}

// handlerName is what the audit record names the handler by: its Go type name without package.
func handlerName(h ApprovalHandler) string {
	t := reflect.TypeOf(h)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Name() != "" {
		return t.Name()
	}
	return t.String()
}

type approvalOutcome struct {
	record *ApprovalRecord
	failed error // the handler failed: recorded as a refusal, then returned as *ApprovalError
}

// ask runs the handler with the timeout, turning every way it can fail into a refusal record.
func ask(ctx context.Context, handler ApprovalHandler, timeout time.Duration, request ApprovalRequest, now func() time.Time) approvalOutcome {
	name := handlerName(handler)
	record := func(approved bool, approver, reason string, pending bool) *ApprovalRecord {
		var who *string
		if approver != "" {
			who = ptr(approver)
		}
		return &ApprovalRecord{
			Approved: approved, Approver: who, DecidedAt: utcTimestamp(now()),
			RequestHash: request.RequestHash, Handler: name, Reason: reason, Pending: pending,
		}
	}
	type answer struct {
		response ApprovalResponse
		err      error
	}
	callCtx, cancel := ctx, context.CancelFunc(func() {})
	if timeout > 0 {
		callCtx, cancel = context.WithTimeout(ctx, timeout)
	}
	defer cancel()
	done := make(chan answer, 1) // buffered: a late answer after the timeout is dropped, never blocks
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- answer{err: fmt.Errorf("panic: %v", p)}
			}
		}()
		r, err := handler.Approve(callCtx, request)
		done <- answer{r, err}
	}()
	var got answer
	select {
	case got = <-done:
	case <-callCtx.Done():
		if ctx.Err() != nil {
			return approvalOutcome{record: record(false, "", "cancelled while the approval was pending", false)}
		}
		return approvalOutcome{record: record(false, "", fmt.Sprintf("approval handler gave no answer within %s", timeout), false)}
	}
	if got.err != nil {
		if errors.Is(got.err, ErrApprovalPending) {
			reason := got.err.Error()
			if reason == ErrApprovalPending.Error() {
				reason = "waiting for a decision out of band"
			}
			return approvalOutcome{record: record(false, "", reason, true)}
		}
		return approvalOutcome{
			record: record(false, "", "approval handler failed: "+got.err.Error(), false),
			failed: got.err,
		}
	}
	r := got.response
	if r.Approved {
		if r.RequestHash == "" {
			return approvalOutcome{record: record(false, "", "the approval is not bound to a request; answer with request.Approve(approver, reason)", false)}
		}
		if r.RequestHash != request.RequestHash {
			return approvalOutcome{record: record(false, "", "the approval was given for a different request (request hash mismatch)", false)}
		}
	}
	return approvalOutcome{record: record(r.Approved, r.Approver, r.Reason, false)}
}
