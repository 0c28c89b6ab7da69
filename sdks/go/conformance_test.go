package agt

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
)

// The language-neutral vectors in conformance/, read unchanged from the repository and run
// through this package's public API (CompilePolicies, Governor.Decide, CanonicalJSON). Numbers
// keep their spelling: policies and requests reach the engine as the file's own JSON text, so
// `5` stays a CEL int and `5.0` a double.

var conformanceDir = filepath.Join("..", "..", "conformance")

// knownGaps are vectors the engine does not pass yet, each with the reason. A listed vector that
// passes fails the run (like a strict xfail), so the list only shrinks; each is counted as not
// passed in the table.
var knownGaps = map[string]string{}

// tally counts passed/total cases per vector file for the table TestMain writes.
var tally = struct {
	sync.Mutex
	passed, total, gaps map[string]int
}{passed: map[string]int{}, total: map[string]int{}, gaps: map[string]int{}}

func count(file string, ok bool) {
	tally.Lock()
	defer tally.Unlock()
	tally.total[file]++
	if ok {
		tally.passed[file]++
	}
}

func countGap(file string) {
	tally.Lock()
	defer tally.Unlock()
	tally.total[file]++
	tally.gaps[file]++
}

func TestMain(m *testing.M) {
	code := m.Run()
	tally.Lock()
	files := make([]string, 0, len(tally.total))
	for f := range tally.total {
		files = append(files, f)
	}
	sort.Strings(files)
	var report strings.Builder
	for _, f := range files {
		note := ""
		if n := tally.gaps[f]; n > 0 {
			note = fmt.Sprintf(" (%d known gap)", n)
		}
		fmt.Fprintf(&report, "| %s | %d / %d%s |\n", f, tally.passed[f], tally.total[f], note)
	}
	tally.Unlock()
	if path := os.Getenv("AGT_CONFORMANCE_TABLE"); path != "" && report.Len() > 0 {
		if err := os.WriteFile(path, []byte(report.String()), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "could not write the conformance table:", err)
			code = 1
		}
	}
	os.Exit(code)
}

func readVectors(t *testing.T, path string, into any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	decoder := json.NewDecoder(bytes.NewReader(data))
	decoder.UseNumber()
	if err := decoder.Decode(into); err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
}

type policyCase struct {
	Name            string           `json:"name"`
	Policies        json.RawMessage  `json:"policies"`
	ExpectWarnings  []string         `json:"expect_warnings"`
	Steps           []policyStep     `json:"steps"`
	ExpectLoadError *expectLoadError `json:"expect_load_error"`
}

type expectLoadError struct {
	Path     *string `json:"path"`
	Contains *string `json:"contains"`
}

type policyStep struct {
	At      *json.Number               `json:"at"`
	Note    string                     `json:"note"`
	Request json.RawMessage            `json:"request"`
	Expect  map[string]json.RawMessage `json:"expect"`
}

func TestPolicyVectors(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(conformanceDir, "policy", "*.json"))
	if err != nil || len(files) < 10 {
		t.Fatalf("expected the policy vector files in %s, found %d (%v)", conformanceDir, len(files), err)
	}
	for _, path := range files {
		name := filepath.Base(path)
		if name == "hashes.json" {
			continue
		}
		t.Run(strings.TrimSuffix(name, ".json"), func(t *testing.T) {
			var doc struct {
				Cases []policyCase `json:"cases"`
			}
			readVectors(t, path, &doc)
			if len(doc.Cases) == 0 {
				t.Fatalf("%s has no cases", name)
			}
			for _, c := range doc.Cases {
				t.Run(c.Name, func(t *testing.T) {
					var problems []string
					if c.ExpectLoadError != nil {
						problems = runLoadError(c)
					} else {
						problems = runDecisions(c)
					}
					if reason, gap := knownGaps[name+"::"+c.Name]; gap {
						if len(problems) == 0 {
							t.Errorf("listed as a known gap (%s) but passes: remove it from knownGaps", reason)
						}
						countGap("policy/" + name)
						t.Logf("known gap: %s\n%s", reason, strings.Join(problems, "\n"))
						return
					}
					count("policy/"+name, len(problems) == 0)
					if len(problems) > 0 {
						t.Error(strings.Join(problems, "\n"))
					}
				})
			}
		})
	}
}

func runLoadError(c policyCase) []string {
	_, err := CompilePolicies(c.Policies)
	pe, ok := err.(*PolicyError)
	if !ok {
		return []string{fmt.Sprintf("expected a *PolicyError, got %T: %v", err, err)}
	}
	var problems []string
	if want := c.ExpectLoadError.Path; want != nil && pe.Path != *want {
		problems = append(problems, fmt.Sprintf("path: expected %q, got %q (%v)", *want, pe.Path, pe))
	}
	if want := c.ExpectLoadError.Contains; want != nil && !strings.Contains(strings.ToLower(pe.Message), strings.ToLower(*want)) {
		problems = append(problems, fmt.Sprintf("message: %q not in %q", *want, pe.Message))
	}
	return problems
}

func runDecisions(c policyCase) []string {
	set, err := CompilePolicies(c.Policies)
	if err != nil {
		return []string{fmt.Sprintf("compile: %v", err)}
	}
	var problems []string
	if c.ExpectWarnings != nil {
		got := set.Warnings()
		ok := len(got) == len(c.ExpectWarnings)
		for i := 0; ok && i < len(got); i++ {
			ok = strings.Contains(strings.ToLower(got[i]), strings.ToLower(c.ExpectWarnings[i]))
		}
		if !ok {
			problems = append(problems, fmt.Sprintf("expect_warnings: expected %q, got %q", c.ExpectWarnings, got))
		}
	}
	now := 0.0
	g, err := New(set, WithAuditLog(nil), WithRateLimitClock(func() float64 { return now }))
	if err != nil {
		return append(problems, fmt.Sprintf("governor: %v", err))
	}
	for i, step := range c.Steps {
		if step.At != nil {
			at, err := step.At.Float64()
			if err != nil {
				return append(problems, fmt.Sprintf("step %d: bad `at`: %v", i, err))
			}
			now = at
		}
		decision := g.Decide(step.Request)
		diffs := append(differences(decision, step.Expect), invariants(decision)...)
		if len(diffs) > 0 {
			label := fmt.Sprintf("step %d", i)
			if step.Note != "" {
				label += " (" + step.Note + ")"
			}
			problems = append(problems, fmt.Sprintf("%s: request %s\n    %s\n    decision: %s",
				label, step.Request, strings.Join(diffs, "\n    "), mustJSON(decision)))
		}
	}
	return problems
}

func mustJSON(v any) string {
	data, err := json.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(data)
}

// refs renders (policy, rule) pairs as the expectation writes them: "rule", or "policy/rule"
// where the expectation qualifies that position.
func refs(pairs [][2]string, want []string) []string {
	out := make([]string, len(pairs))
	for i, p := range pairs {
		if i >= len(want) || strings.Contains(want[i], "/") {
			out[i] = p[0] + "/" + p[1]
		} else {
			out[i] = p[1]
		}
	}
	return out
}

func differences(d Decision, expect map[string]json.RawMessage) []string {
	var problems []string
	check := func(key string, got any) {
		raw, ok := expect[key]
		if !ok {
			return
		}
		gotJSON, _ := json.Marshal(got)
		var want, have any
		_ = json.Unmarshal(raw, &want)
		_ = json.Unmarshal(gotJSON, &have)
		if mustJSON(want) != mustJSON(have) {
			problems = append(problems, fmt.Sprintf("%s: expected %s, got %s", key, raw, gotJSON))
		}
	}
	strs := func(key string) []string {
		var out []string
		if raw, ok := expect[key]; ok {
			_ = json.Unmarshal(raw, &out)
		}
		return out
	}
	check("effect", d.Effect)
	check("allowed", d.Allowed)
	check("rule", d.Rule)
	check("policy", d.Policy)
	var matched, errored, errorRules [][2]string
	for _, m := range d.Matched {
		matched = append(matched, [2]string{m.Policy, m.Rule})
		if m.Errored {
			errored = append(errored, [2]string{m.Policy, m.Rule})
		}
	}
	for _, e := range d.Errors {
		if e.Rule != nil {
			errorRules = append(errorRules, [2]string{deref(e.Policy), *e.Rule})
		}
	}
	check("matched", nonNil(refs(matched, strs("matched"))))
	check("errored", nonNil(refs(errored, strs("errored"))))
	check("error_rules", nonNil(refs(errorRules, strs("error_rules"))))
	check("error_count", len(d.Errors))
	for _, phrase := range strs("errors_contain") {
		found := false
		for _, e := range d.Errors {
			found = found || strings.Contains(strings.ToLower(e.Message), strings.ToLower(phrase))
		}
		if !found {
			problems = append(problems, fmt.Sprintf("errors_contain: no error mentions %q: %s", phrase, mustJSON(d.Errors)))
		}
	}
	check("rate_limited", d.RateLimited)
	check("approvers", nonNil(d.Approvers))
	if raw, ok := expect["message_contains"]; ok {
		var phrase string
		_ = json.Unmarshal(raw, &phrase)
		if !strings.Contains(strings.ToLower(d.Message), strings.ToLower(phrase)) {
			problems = append(problems, fmt.Sprintf("message_contains: %q not in %q", phrase, d.Message))
		}
	}
	check("conflict_strategy", d.ConflictStrategy)
	check("stage", d.Stage)
	return problems
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// invariants hold for every decision, whatever a step expects.
func invariants(d Decision) []string {
	var problems []string
	permissive := d.Effect == EffectAllow || d.Effect == EffectWarn || d.Effect == EffectLog
	if d.RefusedBy == nil && deref(d.Evaluator) != "native" {
		problems = append(problems, fmt.Sprintf("invariant: decided by the engine but records evaluator %q", deref(d.Evaluator)))
	}
	if d.Allowed != permissive {
		problems = append(problems, fmt.Sprintf("invariant: allowed=%v with effect %s", d.Allowed, d.Effect))
	}
	if d.RateLimited && d.Effect != EffectDeny {
		problems = append(problems, "invariant: a rate-limited decision must deny")
	}
	if len(d.Approvers) > 0 && d.Effect != EffectRequireApproval {
		problems = append(problems, "invariant: approvers on a decision that is not require_approval")
	}
	seen := map[[2]string]bool{}
	for _, m := range d.Matched {
		if m.Errored && m.Action != EffectDeny && m.Action != EffectRequireApproval {
			problems = append(problems, fmt.Sprintf("invariant: permissive rule `%s` counted as matched by an error", m.Rule))
		}
		key := [2]string{m.Policy, m.Rule}
		if seen[key] {
			problems = append(problems, "invariant: a rule is listed twice in matched")
		}
		seen[key] = true
	}
	if d.Rule != nil && !seen[[2]string{deref(d.Policy), *d.Rule}] {
		problems = append(problems, "invariant: the deciding rule is not among the matched rules")
	}
	return problems
}

func TestPolicyHashVectors(t *testing.T) {
	path := filepath.Join(conformanceDir, "policy", "hashes.json")
	var doc struct {
		Cases []struct {
			Name     string          `json:"name"`
			Policies json.RawMessage `json:"policies"`
			Expect   struct {
				Policies []struct {
					Name string `json:"name"`
					Hash string `json:"hash"`
				} `json:"policies"`
				SetHash string `json:"set_hash"`
			} `json:"expect"`
		} `json:"cases"`
	}
	readVectors(t, path, &doc)
	if len(doc.Cases) == 0 {
		t.Fatal("hashes.json has no cases")
	}
	for _, c := range doc.Cases {
		t.Run(c.Name, func(t *testing.T) {
			problems := func() []string {
				set, err := CompilePolicies(c.Policies)
				if err != nil {
					return []string{fmt.Sprintf("compile: %v", err)}
				}
				var problems []string
				got := map[string]string{}
				for _, p := range set.PolicyHashes() {
					got[p.Name] = p.Hash
				}
				for _, p := range c.Expect.Policies {
					if got[p.Name] != p.Hash {
						problems = append(problems, fmt.Sprintf("policy %s: expected %s, got %s", p.Name, p.Hash, got[p.Name]))
					}
				}
				if len(got) != len(c.Expect.Policies) {
					problems = append(problems, fmt.Sprintf("expected %d policies, got %d", len(c.Expect.Policies), len(got)))
				}
				if set.Hash() != c.Expect.SetHash {
					problems = append(problems, fmt.Sprintf("set hash: expected %s, got %s", c.Expect.SetHash, set.Hash()))
				}
				d, err := set.Evaluate([]byte(`{"action":{"type":"x","tool":"t"},"args":{},"agent":{"id":"ops"},"context":{},"stage":"pre_tool"}`))
				if err != nil {
					return append(problems, fmt.Sprintf("evaluate: %v", err))
				}
				if deref(d.PolicySetHash) != c.Expect.SetHash {
					problems = append(problems, fmt.Sprintf("decision policy_set_hash: %s", deref(d.PolicySetHash)))
				}
				if d.Policy != nil && deref(d.PolicyHash) != got[*d.Policy] {
					problems = append(problems, fmt.Sprintf("decision policy_hash: %s", deref(d.PolicyHash)))
				}
				return problems
			}()
			count("policy/hashes.json", len(problems) == 0)
			if len(problems) > 0 {
				t.Error(strings.Join(problems, "\n"))
			}
		})
	}
}

func TestCanonicalJSONVectors(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(conformanceDir, "canonical_json", "*.json"))
	if err != nil || len(files) < 6 {
		t.Fatalf("expected the canonical JSON vector files, found %d (%v)", len(files), err)
	}
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(strings.TrimSuffix(name, ".json"), func(t *testing.T) {
			var doc struct {
				Cases []struct {
					Name      string          `json:"name"`
					Input     json.RawMessage `json:"input"`
					Canonical string          `json:"canonical"`
					SHA256    string          `json:"sha256"`
				} `json:"cases"`
				Errors []struct {
					Name string `json:"name"`
					Kind string `json:"kind"`
					Text string `json:"input_json_text"`
				} `json:"errors"`
			}
			readVectors(t, path, &doc)
			for _, c := range doc.Cases {
				got, err := CanonicalJSON(c.Input)
				sum := sha256.Sum256(got)
				ok := err == nil && string(got) == c.Canonical && hex.EncodeToString(sum[:]) == c.SHA256
				count("canonical_json/"+name, ok)
				if !ok {
					t.Errorf("%s: input %s: got %q (%v), expected %q", c.Name, c.Input, got, err, c.Canonical)
				}
			}
			for _, e := range doc.Errors {
				got, err := CanonicalJSON([]byte(e.Text))
				count("canonical_json/"+name, err != nil)
				if err == nil {
					t.Errorf("%s (%s): %q was accepted as %q", e.Name, e.Kind, e.Text, got)
				}
			}
		})
	}
}

func TestAuditChainVectors(t *testing.T) {
	const file = "audit/chain.json"
	var doc struct {
		Records []struct {
			Seq       int64           `json:"seq"`
			Timestamp string          `json:"timestamp"`
			PrevHash  string          `json:"prev_hash"`
			Request   json.RawMessage `json:"request"`
			Decision  json.RawMessage `json:"decision"`
			Approval  json.RawMessage `json:"approval"`
			Body      string          `json:"body"`
			Hash      string          `json:"hash"`
			Line      string          `json:"line"`
		} `json:"records"`
		Head     ChainHead `json:"head"`
		Tampered []struct {
			Name     string   `json:"name"`
			Lines    []string `json:"lines"`
			Pin      string   `json:"pin"`
			Index    int64    `json:"index"`
			Contains string   `json:"contains"`
		} `json:"tampered"`
	}
	readVectors(t, filepath.Join(conformanceDir, "audit", "chain.json"), &doc)
	if len(doc.Records) == 0 || len(doc.Tampered) == 0 {
		t.Fatal("chain.json has no records or no tampered trails")
	}
	var lines []string
	for _, r := range doc.Records {
		var approval []byte
		if string(r.Approval) != "null" {
			approval = r.Approval
		}
		body, err := recordBody(r.Seq, r.Timestamp, r.PrevHash, r.Request, r.Decision, approval)
		line := ""
		if err == nil {
			line, err = recordLine(body, r.Hash)
		}
		ok := err == nil && body == r.Body && sha256Hex([]byte(body)) == r.Hash && line == r.Line
		count(file, ok)
		if !ok {
			t.Errorf("record %d: err %v\n got body %s\nwant body %s", r.Seq, err, body, r.Body)
		}
		lines = append(lines, r.Line)
	}
	head, err := VerifyLines(lines, doc.Head.Hash, doc.Head.Count)
	count(file, err == nil && head == doc.Head)
	if err != nil || head != doc.Head {
		t.Errorf("the whole trail: got %+v, %v; want %+v", head, err, doc.Head)
	}
	for _, tc := range doc.Tampered {
		wantHead, wantCount := doc.Head.Hash, doc.Head.Count
		switch tc.Pin {
		case "count":
			wantHead = ""
		case "head":
			wantCount = -1
		}
		_, err := VerifyLines(tc.Lines, wantHead, wantCount)
		var integrity *AuditIntegrityError
		ok := errors.As(err, &integrity) && integrity.Index == tc.Index &&
			strings.Contains(strings.ToLower(integrity.Message), strings.ToLower(tc.Contains))
		count(file, ok)
		if !ok {
			t.Errorf("tampered %s: expected an integrity error at record %d containing %q, got %v", tc.Name, tc.Index, tc.Contains, err)
		}
	}
}

// The YAML half of conformance/equivalence: each folder's policy.yaml, loaded from its file by the
// engine's loader, decides every request of cases.json as expected (the Rego and Cedar halves are
// Python-only).
func TestEquivalenceVectors(t *testing.T) {
	folders, err := filepath.Glob(filepath.Join(conformanceDir, "equivalence", "*", "policy.yaml"))
	if err != nil || len(folders) == 0 {
		t.Fatalf("expected the equivalence folders, found %d (%v)", len(folders), err)
	}
	for _, policyPath := range folders {
		folder := filepath.Dir(policyPath)
		t.Run(filepath.Base(folder), func(t *testing.T) {
			var doc struct {
				Steps []struct {
					Request json.RawMessage `json:"request"`
					Expect  struct {
						Effect    Effect   `json:"effect"`
						Rule      *string  `json:"rule"`
						Approvers []string `json:"approvers"`
					} `json:"expect"`
				} `json:"steps"`
			}
			readVectors(t, filepath.Join(folder, "cases.json"), &doc)
			set, err := LoadPolicyFile(policyPath)
			var problems []string
			if err != nil {
				problems = append(problems, fmt.Sprintf("load: %v", err))
			}
			for i := 0; err == nil && i < len(doc.Steps); i++ {
				step := doc.Steps[i]
				d, evalErr := set.Evaluate(step.Request)
				want := step.Expect
				permissive := want.Effect == EffectAllow || want.Effect == EffectWarn || want.Effect == EffectLog
				if evalErr != nil || d.Effect != want.Effect || d.Allowed != permissive ||
					strings.Join(d.Approvers, ",") != strings.Join(want.Approvers, ",") ||
					(want.Rule != nil && deref(d.Rule) != *want.Rule) || deref(d.PolicySetHash) != set.Hash() {
					problems = append(problems, fmt.Sprintf("step %d: got %s (%v), expected %+v", i, mustJSON(d), evalErr, want))
				}
			}
			file := "equivalence/" + filepath.Base(folder) + "/policy.yaml"
			count("equivalence/*/policy.yaml", len(problems) == 0)
			if len(problems) > 0 {
				t.Errorf("%s:\n%s", file, strings.Join(problems, "\n"))
			}
		})
	}
}
