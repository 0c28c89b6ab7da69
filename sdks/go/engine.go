package agt

// The one place this package crosses into the Rust engine (libagt, the agt-ffi crate). Every
// decision, canonical form, hash layout and trail verification comes from there, so a policy
// decides here exactly as it does in Python, Rust and TypeScript.

/*
#include <stdlib.h>
#include "agt.h"
*/
import "C"

import (
	"encoding/json"
	"fmt"
	"runtime"
	"strings"

	"unsafe"
)

// Status codes of the C ABI (AgtStatus).
const (
	statusOK             = 0
	statusInvalid        = 1
	statusJSON           = 2
	statusPolicy         = 3
	statusCanonical      = 4
	statusAuditIntegrity = 5
	statusAuditWrite     = 6
	statusUnpinned       = 7
	statusIO             = 8
	statusRequest        = 9
)

// ffiError is the JSON error object the ABI writes on failure.
type ffiError struct {
	Status  int     `json:"status"`
	Kind    string  `json:"kind"`
	Message string  `json:"message"`
	Policy  *string `json:"policy"`
	Path    *string `json:"path"`
	File    *string `json:"file"`
	Line    *int    `json:"line"`
	Column  *int    `json:"column"`
	Index   *int64  `json:"index"`
	Help    *string `json:"help"`
}

// Version is the version of the linked engine library.
func Version() string { return C.GoString(C.agt_version()) }

// cstrings holds the C copies of one call's arguments. A Go string with a NUL byte would be cut
// short in C (and a cut JSON text can still parse), so such an argument fails the call instead.
type cstrings struct {
	ptrs []*C.char
	nul  string
}

func (c *cstrings) add(s string) *C.char {
	if c.nul == "" && strings.IndexByte(s, 0) >= 0 {
		c.nul = s
	}
	p := C.CString(s)
	c.ptrs = append(c.ptrs, p)
	return p
}

func (c *cstrings) free() {
	for _, p := range c.ptrs {
		C.free(unsafe.Pointer(p))
	}
}

func (c *cstrings) check() error {
	if c.nul != "" {
		return &EngineError{Code: statusInvalid, Message: "text holds a NUL byte, which is not valid JSON text"}
	}
	return nil
}

// takeString copies and releases a string the library returned.
func takeString(p *C.char) string {
	if p == nil {
		return ""
	}
	defer C.agt_string_free(p)
	return C.GoString(p)
}

// failure turns a status and the library's error JSON into this package's error types.
func failure(status C.enum_AgtStatus, errText *C.char) error {
	code := int(status)
	raw := takeString(errText)
	var e ffiError
	if raw == "" || json.Unmarshal([]byte(raw), &e) != nil {
		e = ffiError{Status: code, Message: raw}
		if raw == "" {
			e.Message = "the engine failed without a message"
		}
	}
	switch code {
	case statusPolicy, statusIO:
		pe := &PolicyError{Message: e.Message, Path: deref(e.Path), File: deref(e.File), Help: deref(e.Help)}
		if e.Line != nil {
			pe.Line = *e.Line
		}
		if e.Column != nil {
			pe.Column = *e.Column
		}
		return pe
	case statusAuditIntegrity, statusUnpinned:
		index := int64(-1)
		if e.Index != nil {
			index = *e.Index
		}
		return &AuditIntegrityError{Index: index, Message: e.Message}
	case statusAuditWrite:
		return &AuditError{Message: e.Message}
	case statusRequest:
		return &RequestError{Message: e.Message}
	}
	return &EngineError{Code: code, Message: e.Message}
}

// call runs one string-returning ABI function with the error slot handled.
func call(fn func(out **C.char, errOut **C.char) C.enum_AgtStatus) (string, error) {
	var out, errText *C.char
	status := fn(&out, &errText)
	if int(status) != statusOK {
		if out != nil {
			C.agt_string_free(out)
		}
		return "", failure(status, errText)
	}
	return takeString(out), nil
}

// CanonicalJSON is the RFC 8785 canonical form of a JSON text, as the toolkit hashes and signs
// it. Integer tokens are kept exact; NaN, infinities, lone surrogates, duplicate keys and
// integers no double holds are refused.
func CanonicalJSON(data []byte) ([]byte, error) {
	var c cstrings
	defer c.free()
	text := c.add(string(data))
	if err := c.check(); err != nil {
		return nil, err
	}
	out, err := call(func(o, e **C.char) C.enum_AgtStatus { return C.agt_canonical_json(text, o, e) })
	return []byte(out), err
}

// ContentHash is "sha256:" + the hex SHA-256 of a JSON text's canonical form (how policies and
// approvals are named).
func ContentHash(data []byte) (string, error) {
	var c cstrings
	defer c.free()
	text := c.add(string(data))
	if err := c.check(); err != nil {
		return "", err
	}
	return call(func(o, e **C.char) C.enum_AgtStatus { return C.agt_content_hash(text, o, e) })
}

// nativeSet owns a compiled policy set handle; it is freed when the Go value is collected.
type nativeSet struct {
	ptr *C.AgtPolicySet
}

func compileNative(policiesJSON []byte) (*nativeSet, error) {
	var c cstrings
	defer c.free()
	text := c.add(string(policiesJSON))
	if err := c.check(); err != nil {
		return nil, err
	}
	var ptr *C.AgtPolicySet
	var errText *C.char
	if status := C.agt_policy_set_compile(text, &ptr, &errText); int(status) != statusOK {
		return nil, failure(status, errText)
	}
	set := &nativeSet{ptr: ptr}
	runtime.SetFinalizer(set, func(s *nativeSet) { C.agt_policy_set_free(s.ptr) })
	return set, nil
}

func (s *nativeSet) info() (string, error) {
	defer runtime.KeepAlive(s)
	return call(func(o, e **C.char) C.enum_AgtStatus { return C.agt_policy_set_info(s.ptr, o, e) })
}

func (s *nativeSet) evaluate(request []byte) (string, error) {
	defer runtime.KeepAlive(s)
	var c cstrings
	defer c.free()
	text := c.add(string(request))
	if err := c.check(); err != nil {
		return "", err
	}
	return call(func(o, e **C.char) C.enum_AgtStatus { return C.agt_policy_set_evaluate(s.ptr, text, o, e) })
}

func (s *nativeSet) decide(limiter *nativeLimiter, request []byte, now float64) (string, error) {
	defer runtime.KeepAlive(s)
	defer runtime.KeepAlive(limiter)
	var c cstrings
	defer c.free()
	text := c.add(string(request))
	if err := c.check(); err != nil {
		return "", err
	}
	return call(func(o, e **C.char) C.enum_AgtStatus {
		return C.agt_policy_set_decide(s.ptr, limiter.ptr, text, C.double(now), o, e)
	})
}

// nativeLimiter owns rate-limit state (calls counted per agent, policy and rule).
type nativeLimiter struct {
	ptr *C.AgtRateLimiter
}

func newNativeLimiter() (*nativeLimiter, error) {
	var ptr *C.AgtRateLimiter
	var errText *C.char
	if status := C.agt_rate_limiter_new(&ptr, &errText); int(status) != statusOK {
		return nil, failure(status, errText)
	}
	l := &nativeLimiter{ptr: ptr}
	runtime.SetFinalizer(l, func(l *nativeLimiter) { C.agt_rate_limiter_free(l.ptr) })
	return l, nil
}

// recordBody is the canonical body of one audit record in agt-core's layout (the parts are
// canonicalised by the engine; approval nil means none).
func recordBody(seq int64, timestamp, prevHash string, request, decision, approval []byte) (string, error) {
	if seq < 0 {
		return "", fmt.Errorf("negative sequence number %d", seq)
	}
	var c cstrings
	defer c.free()
	ts, prev, req, dec := c.add(timestamp), c.add(prevHash), c.add(string(request)), c.add(string(decision))
	var appr *C.char
	if approval != nil {
		appr = c.add(string(approval))
	}
	if err := c.check(); err != nil {
		return "", err
	}
	return call(func(o, e **C.char) C.enum_AgtStatus {
		return C.agt_audit_record_body(C.uint64_t(seq), ts, prev, req, dec, appr, o, e)
	})
}

// recordLine is the exported line of a record: its body with "hash" in canonical key order.
func recordLine(body, digest string) (string, error) {
	var c cstrings
	defer c.free()
	b, h := c.add(body), c.add(digest)
	if err := c.check(); err != nil {
		return "", err
	}
	return call(func(o, e **C.char) C.enum_AgtStatus { return C.agt_audit_record_line(b, h, o, e) })
}

type pin struct {
	ExpectedHead  *string `json:"expected_head"`
	ExpectedCount *int64  `json:"expected_count"`
	AllowUnpinned bool    `json:"allow_unpinned"`
}

func verifyTrail(trail string, p pin) (ChainHead, error) {
	pinJSON, err := json.Marshal(p)
	if err != nil {
		return ChainHead{}, err
	}
	var c cstrings
	defer c.free()
	t, pj := c.add(trail), c.add(string(pinJSON))
	if err := c.check(); err != nil {
		return ChainHead{}, err
	}
	out, err := call(func(o, e **C.char) C.enum_AgtStatus { return C.agt_audit_verify_lines(t, pj, o, e) })
	if err != nil {
		return ChainHead{}, err
	}
	var head ChainHead
	if err := json.Unmarshal([]byte(out), &head); err != nil {
		return ChainHead{}, &EngineError{Code: -1, Message: "unreadable chain head from the engine: " + err.Error()}
	}
	return head, nil
}
