package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func capture(t *testing.T, run func() error) (string, error) {
	t.Helper()
	r, w, _ := os.Pipe()
	stdout := os.Stdout
	os.Stdout = w
	err := run()
	w.Close()
	os.Stdout = stdout
	var out bytes.Buffer
	_, _ = io.Copy(&out, r)
	return out.String(), err
}

// The trail tool's contract: write prints the head and count of the trail it wrote; verify accepts
// that trail pinned to them and refuses a tampered or truncated copy.
func TestWriteThenVerify(t *testing.T) {
	dir := t.TempDir()
	calls := filepath.Join(dir, "calls.json")
	trail := filepath.Join(dir, "trail.jsonl")
	_ = os.WriteFile(calls, []byte(`[
	  {"tool": "sql", "args": {"action": "read", "table": "users"}, "agent": {"id": "analyst"}},
	  {"tool": "sql", "args": {"action": "drop", "table": "users", "limit": 1.5}, "agent": "analyst"},
	  {"tool": "send_email", "args": {"to": "a@example.com"}, "agent": {"id": "mailer", "team": "ops"}}]`), 0o644)
	out, err := capture(t, func() error {
		return write([]string{filepath.Join("..", "..", "..", "..", "conformance", "seed-policy.yaml"), trail, calls})
	})
	if err != nil {
		t.Fatalf("write: %v", err)
	}
	var head struct {
		Head  string `json:"head"`
		Count int64  `json:"count"`
	}
	if err := json.Unmarshal([]byte(out), &head); err != nil || head.Count != 3 || len(head.Head) != 64 {
		t.Fatalf("write printed %q (%v)", out, err)
	}
	count := strconv.FormatInt(head.Count, 10)
	if _, err := capture(t, func() error { return verify([]string{trail, "--head", head.Head, "--count", count}) }); err != nil {
		t.Fatalf("verify: %v", err)
	}
	data, _ := os.ReadFile(trail)
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	tampered := filepath.Join(dir, "tampered.jsonl")
	for name, text := range map[string]string{
		"edited":    strings.Join([]string{lines[0], strings.Replace(lines[1], `"deny"`, `"allow"`, 1), lines[2]}, "\n") + "\n",
		"truncated": strings.Join(lines[:2], "\n") + "\n",
	} {
		_ = os.WriteFile(tampered, []byte(text), 0o644)
		if _, err := capture(t, func() error { return verify([]string{tampered, "--head", head.Head, "--count", count}) }); err == nil {
			t.Errorf("%s: the tampered trail verified", name)
		}
	}
}
