package agt

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// PolicySet is a compiled, immutable set of policies, safe for concurrent use. The Rust engine
// compiled it; every decision it makes is the engine's.
type PolicySet struct {
	native *nativeSet
	info   policySetInfo
}

// PolicyHash names one policy of a set by its content hash.
type PolicyHash struct {
	Name string `json:"name"`
	Hash string `json:"hash"`
}

// RuleLimit is the rate limit of one rule.
type RuleLimit struct {
	Policy string `json:"policy"`
	Rule   string `json:"rule"`
	Limit  string `json:"limit"`
}

type policySetInfo struct {
	Hash     string       `json:"hash"`
	Policies []PolicyHash `json:"policies"`
	Warnings []string     `json:"warnings"`
	Stages   []string     `json:"stages"`
	Limits   []RuleLimit  `json:"limits"`
}

// CompilePolicies compiles policies given as JSON: a list of `governance.toolkit/v1` policy
// documents (or of resolved policies as agt-core's ResolvedPolicy dumps them), or one document.
// A policy that does not load is a *PolicyError naming where.
func CompilePolicies(policiesJSON []byte) (*PolicySet, error) {
	list := policiesJSON
	trimmed := strings.TrimSpace(string(policiesJSON))
	if strings.HasPrefix(trimmed, "{") {
		list = []byte("[" + trimmed + "]")
	}
	native, err := compileNative(list)
	if err != nil {
		return nil, err
	}
	return describe(native)
}

func describe(native *nativeSet) (*PolicySet, error) {
	out, err := native.info()
	if err != nil {
		return nil, err
	}
	set := &PolicySet{native: native}
	if err := json.Unmarshal([]byte(out), &set.info); err != nil {
		return nil, &EngineError{Code: -1, Message: "unreadable policy set description from the engine: " + err.Error()}
	}
	return set, nil
}

// LoadPolicyFile compiles a policy file: `governance.toolkit/v1` YAML (`.yaml`, `.yml`, one policy
// per document, `extends` resolved from the file's folder) or JSON (`.json`: one document or a
// list). Load errors are *PolicyError with file, line and column.
func LoadPolicyFile(path string) (*PolicySet, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &PolicyError{Message: fmt.Sprintf("policy file could not be read: %v", err), File: path}
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".json":
		set, err := CompilePolicies(data)
		if pe, ok := err.(*PolicyError); ok && pe.File == "" {
			pe.File = path
		}
		return set, err
	case ".yaml", ".yml":
		return LoadPolicyFiles(path)
	}
	return nil, &PolicyError{
		Message: fmt.Sprintf("policy file `%s` is neither .json nor .yaml/.yml", path),
		File:    path,
		Help:    "name the file policy.yaml (governance.toolkit/v1 YAML) or policy.json",
	}
}

// Hash is the content hash of the whole set ("sha256:<hex>"); decisions carry it.
func (s *PolicySet) Hash() string { return s.info.Hash }

// PolicyHashes names each policy by its content hash, in load order.
func (s *PolicySet) PolicyHashes() []PolicyHash { return append([]PolicyHash(nil), s.info.Policies...) }

// Warnings are the loader's warnings (nothing refused, but worth a look).
func (s *PolicySet) Warnings() []string { return append([]string(nil), s.info.Warnings...) }

// Limits are the rules that have a rate limit.
func (s *PolicySet) Limits() []RuleLimit { return append([]RuleLimit(nil), s.info.Limits...) }

// Evaluate judges one request (JSON data: action, args, agent, context, stage) without rate
// limits. The request may be malformed: the engine then denies with an error, it never allows.
// An error means the engine could not take the request at all; treat it as a refusal.
func (s *PolicySet) Evaluate(requestJSON []byte) (Decision, error) {
	out, err := s.native.evaluate(requestJSON)
	if err != nil {
		return Decision{}, err
	}
	return parseDecision(out)
}

func parseDecision(text string) (Decision, error) {
	var d Decision
	if err := json.Unmarshal([]byte(text), &d); err != nil {
		return Decision{}, &EngineError{Code: -1, Message: "unreadable decision from the engine: " + err.Error()}
	}
	return d, nil
}
