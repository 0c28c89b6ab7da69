package agt

import (
	"bufio"

	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// GenesisHash is the prev_hash of the first record of a chain.
const GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

// ChainHead is where a verified chain ends: publish or sign it to pin everything before it.
type ChainHead struct {
	// Count is the number of records verified.
	Count int64 `json:"count"`
	// Seq is the sequence number of the last record (-1 when there were none).
	Seq int64 `json:"seq"`
	// Hash is the hash of the last record (GenesisHash when there were none).
	Hash string `json:"hash"`
}

// ApprovalRecord says who approved or refused a require_approval decision, when, and for which
// request. It is part of the audit record, so its hash covers it.
type ApprovalRecord struct {
	Approved    bool    `json:"approved"`
	Approver    *string `json:"approver"`
	DecidedAt   string  `json:"decided_at"`
	RequestHash string  `json:"request_hash"`
	Handler     string  `json:"handler"`
	Reason      string  `json:"reason"`
	Pending     bool    `json:"pending"`
}

type auditEntry struct {
	hash string
	body string
}

// AuditLog is an append-only, hash-chained, in-memory audit trail, safe for concurrent use.
//
// Each record is the RFC 8785 canonical JSON of {approval, decision, prev_hash, request, seq,
// timestamp}; its hash is the SHA-256 of those bytes and the next record's prev_hash. This is
// agt-core's layout byte for byte, so a trail exported here verifies with the Python toolkit and
// every other SDK, and theirs verify here. Editing, removing or reordering any record breaks
// Verify; cutting records off the end is caught against a published head (VerifyLines).
type AuditLog struct {
	mu      sync.Mutex
	entries []auditEntry
	head    string
	nextSeq int64
	sink    func(line string) error
	now     func() time.Time
}

// NewAuditLog returns an empty log.
func NewAuditLog() *AuditLog {
	return &AuditLog{head: GenesisHash, now: time.Now}
}

// WithSink makes the log call sink with each record's line before the record joins the chain
// (e.g. to append it to a file). If sink fails, the append fails and the governed call is refused.
// It is called with the log's lock held: it must not use the log.
func (l *AuditLog) WithSink(sink func(line string) error) *AuditLog {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sink = sink
	return l
}

// Append records one decision. requestJSON is the request as JSON data; the decision and the
// approval (nil for none) are recorded in full. It returns the record's hash.
func (l *AuditLog) Append(requestJSON []byte, decision Decision, approval *ApprovalRecord) (string, error) {
	decisionJSON, err := json.Marshal(decision)
	if err != nil {
		return "", &AuditError{Message: "audit record could not be serialised: the decision: " + err.Error(), Err: err}
	}
	var approvalJSON []byte
	if approval != nil {
		if approvalJSON, err = json.Marshal(approval); err != nil {
			return "", &AuditError{Message: "audit record could not be serialised: the approval: " + err.Error(), Err: err}
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	seq := l.nextSeq
	body, err := recordBody(seq, utcTimestamp(l.now()), l.head, requestJSON, decisionJSON, approvalJSON)
	if err != nil {
		return "", &AuditError{Message: "audit record could not be serialised: " + err.Error(), Err: err}
	}
	digest := sha256Hex([]byte(body))
	if l.sink != nil {
		line, err := recordLine(body, digest)
		if err == nil {
			err = l.sink(line)
		}
		if err != nil {
			return "", &AuditError{Message: "audit sink failed: " + err.Error(), Err: err}
		}
	}
	l.entries = append(l.entries, auditEntry{hash: digest, body: body})
	l.head = digest
	l.nextSeq = seq + 1
	return digest, nil
}

// Len is the number of records.
func (l *AuditLog) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.entries)
}

// Head is where the chain ends now: publish or sign it to pin every record before it.
func (l *AuditLog) Head() ChainHead {
	l.mu.Lock()
	defer l.mu.Unlock()
	return ChainHead{Count: int64(len(l.entries)), Seq: l.nextSeq - 1, Hash: l.head}
}

// Lines returns the records as canonical JSON lines (hash included), oldest first, exactly as
// agt-core's audit_record_line writes them.
func (l *AuditLog) Lines() []string {
	l.mu.Lock()
	entries := append([]auditEntry(nil), l.entries...)
	l.mu.Unlock()
	out := make([]string, len(entries))
	for i, e := range entries {
		line, err := recordLine(e.body, e.hash)
		if err != nil {
			// Bodies are built by the engine, so this cannot happen short of memory corruption;
			// a line that says so fails every verifier rather than vanishing from the trail.
			line = fmt.Sprintf(`{"error":%q}`, err.Error())
		}
		out[i] = line
	}
	return out
}

// WriteTo writes the trail as JSON lines (one record a line, each ending in "\n").
func (l *AuditLog) WriteTo(w io.Writer) (int64, error) {
	var n int64
	for _, line := range l.Lines() {
		k, err := io.WriteString(w, line+"\n")
		n += int64(k)
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// Verify checks every record against its hash, its sequence number and its predecessor.
func (l *AuditLog) Verify() (ChainHead, error) {
	head, err := VerifyLines(l.Lines(), "", -1)
	if err != nil {
		return head, err
	}
	if want := l.Head(); head.Hash != want.Hash {
		return head, &AuditIntegrityError{Index: head.Seq + 1, Message: "the log's records do not end at its head"}
	}
	return head, nil
}

// VerifyLines verifies an exported trail against a pinned head and count, as agt-core's
// verify_audit_lines does: every line canonical JSON with exactly the record's fields, its hash
// the SHA-256 of the other fields' canonical JSON, sequence numbers from 0, each linking to the
// line before. A chain alone cannot show that records were not cut off its end or that it was not
// rebuilt, so pass the head hash and count published elsewhere; "" and -1 skip a check, and at
// least one must be given.
func VerifyLines(lines []string, expectedHead string, expectedCount int64) (ChainHead, error) {
	return verifyLines(lines, expectedHead, expectedCount, false)
}

// VerifyLinesUnpinned only checks that the lines are internally consistent: it cannot detect a
// truncated or rebuilt trail.
func VerifyLinesUnpinned(lines []string) (ChainHead, error) {
	return verifyLines(lines, "", -1, true)
}

func verifyLines(lines []string, expectedHead string, expectedCount int64, unpinned bool) (ChainHead, error) {
	p := pin{AllowUnpinned: unpinned}
	if expectedHead != "" {
		p.ExpectedHead = &expectedHead
	}
	if expectedCount >= 0 {
		p.ExpectedCount = &expectedCount
	}
	var trail strings.Builder
	for _, line := range lines {
		trail.WriteString(strings.TrimRight(line, "\n"))
		trail.WriteByte('\n')
	}
	return verifyTrail(trail.String(), p)
}

// ReadLines reads a JSON-lines trail (as WriteTo or any other SDK writes it).
func ReadLines(r io.Reader) ([]string, error) {
	var lines []string
	scanner := bufio.NewScanner(r)
	scanner.Buffer(make([]byte, 0, 64*1024), 64*1024*1024)
	for scanner.Scan() {
		lines = append(lines, scanner.Text()) // a blank line is a record that fails verification
	}
	return lines, scanner.Err()
}

func utcTimestamp(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000000Z")
}

func sha256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
