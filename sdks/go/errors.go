package agt

import (
	"errors"
	"fmt"
)

// The errors of this package. Every one of them means the governed call did not run:
//
//	error
//	├── *DeniedError          the decision refused the call (deny, unapproved require_approval, refusal)
//	├── *PolicyError          a policy could not be loaded or compiled (at setup, never per call)
//	├── *RequestError         the arguments cannot be judged faithfully (the call is refused, audited)
//	├── *ApprovalError        the approval handler failed (recorded as a refusal, then returned)
//	├── *AuditError           the decision could not be recorded, so the call did not run
//	├── *AuditIntegrityError  an audit trail does not verify (names the first bad record)
//	└── *EngineError          the native engine failed or could not be reached
//
// Only *DeniedError carries a decision; the set of errors that can change an allow/deny outcome
// is exactly these, and each of them refuses.

// DeniedError is returned by a governed function whose call was refused.
type DeniedError struct {
	Tool     string
	Decision Decision
	// Approval is the approval record when the decision required one.
	Approval *ApprovalRecord
	// AuditHash is the hash of the audit record of this refusal ("" without an audit log).
	AuditHash string
	// Help says what to do, when the toolkit knows (e.g. no approval handler is configured).
	Help string
	// Cause is why the request could not be built (a *RequestError), when that was the refusal.
	Cause error
}

func (e *DeniedError) Error() string {
	return fmt.Sprintf("call to `%s` refused: %s", e.Tool, e.Decision.Summary())
}

func (e *DeniedError) Unwrap() error { return e.Cause }

// PolicyError says why a policy could not be loaded or compiled.
type PolicyError struct {
	Message string
	// Path is where in the document the problem is (e.g. "rules[0].condition"), when known.
	Path string
	File string
	// Line and Column are 1-based positions in File, 0 when unknown.
	Line, Column int
	Help         string
}

func (e *PolicyError) Error() string {
	where := ""
	if e.File != "" {
		where = e.File
		if e.Line > 0 {
			where += fmt.Sprintf(":%d:%d", e.Line, e.Column)
		}
		where += ": "
	}
	if e.Path != "" {
		where += e.Path + ": "
	}
	return where + e.Message
}

// RequestError says why a call's arguments could not be judged (the call was refused).
type RequestError struct {
	Message string
	Help    string
}

func (e *RequestError) Error() string { return e.Message }

// ApprovalError is returned when the approval handler failed (an error or a panic). The call was
// refused and the failure recorded in the audit log before this error was returned.
type ApprovalError struct {
	Rule    string
	Message string
	Err     error
}

func (e *ApprovalError) Error() string {
	return fmt.Sprintf("approval handler failed for rule `%s`: %s", e.Rule, e.Message)
}

func (e *ApprovalError) Unwrap() error { return e.Err }

// AuditError is returned when a decision could not be recorded; the call did not run.
type AuditError struct {
	Message string
	Err     error
}

func (e *AuditError) Error() string { return e.Message }

func (e *AuditError) Unwrap() error { return e.Err }

// AuditIntegrityError says where an audit trail stops verifying.
type AuditIntegrityError struct {
	// Index is the sequence number of the first record that does not verify.
	Index   int64
	Message string
}

func (e *AuditIntegrityError) Error() string { return e.Message }

// EngineError is a failure of the native engine itself (bad input at the boundary, a panic caught
// inside it). A governed call whose evaluation fails this way is refused, never allowed.
type EngineError struct {
	Code    int
	Message string
}

func (e *EngineError) Error() string {
	return fmt.Sprintf("agt engine error %d: %s", e.Code, e.Message)
}

// ErrApprovalPending is returned (possibly wrapped) by an approval handler that handed the
// decision to a person out of band: the call is refused for now and recorded as pending.
var ErrApprovalPending = errors.New("approval pending")
