package agt

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestMiddleware(t *testing.T) {
	policy := `{"apiVersion": "governance.toolkit/v1", "name": "api", "default_action": "allow", "rules": [
	  {"name": "no-admin-deletes", "condition": "action.type == 'delete' && args.path.startsWith('/admin')", "action": "deny"},
	  {"name": "reads", "condition": "action.type == 'get'", "action": "allow", "limit": "3/minute"},
	  {"name": "staff-only", "condition": "args.path == '/payroll' && !('staff' in agent.roles)", "action": "deny"}]}`
	g := newGovernor(t, policy, WithRateLimitClock(func() float64 { return 0 }))
	handled := 0
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handled++
		if _, ok := EnforcementFrom(r.Context()); !ok {
			t.Error("an allowed request reached the handler without its enforcement")
		}
		_, _ = io.WriteString(w, "ok")
	})
	server := httptest.NewServer(g.Middleware("api", app, MiddlewareOptions{
		Agent: func(r *http.Request) (string, map[string]any, error) {
			switch r.Header.Get("Authorization") {
			case "Bearer alice":
				return "alice", map[string]any{"roles": []string{"staff"}}, nil
			case "Bearer bob":
				return "bob", map[string]any{"roles": []string{}}, nil
			}
			return "", nil, errors.New("no valid token")
		},
		Headers: []string{"x-request-id"},
	}))
	defer server.Close()

	do := func(method, path, token string) (int, map[string]any) {
		req, _ := http.NewRequest(method, server.URL+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		req.Header.Set("X-Request-Id", "r-1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		var out map[string]any
		_ = json.Unmarshal(body, &out)
		return resp.StatusCode, out
	}
	if code, _ := do("POST", "/admin/users", "alice"); code != 200 {
		t.Fatalf("POST /admin/users: %d", code)
	}
	if code, body := do("DELETE", "/admin/users", "alice"); code != 403 || body["rule"] != "no-admin-deletes" || body["audit_hash"] == "" {
		t.Fatalf("DELETE /admin/users: %d %v", code, body)
	}
	if code, body := do("POST", "/payroll", "bob"); code != 403 || body["rule"] != "staff-only" {
		t.Fatalf("bob POST /payroll: %d %v", code, body)
	}
	if code, _ := do("POST", "/payroll", ""); code != 401 {
		t.Fatalf("no token: %d", code)
	}
	for i := 0; i < 3; i++ {
		if code, _ := do("GET", "/x", "alice"); code != 200 {
			t.Fatalf("GET %d: %d", i, code)
		}
	}
	if code, body := do("GET", "/x", "alice"); code != 429 || body["rule"] != "reads" {
		t.Fatalf("fourth GET: %d %v", code, body)
	}
	if handled != 4 {
		t.Fatalf("the handler ran %d times, want 4", handled)
	}
	records := verified(t, g)
	if len(records) != 8 {
		t.Fatalf("want 8 audit records, got %d", len(records))
	}
	args := records[0]["request"].(map[string]any)["args"].(map[string]any)
	headers := args["headers"].(map[string]any)
	if _, leaked := headers["Authorization"]; leaked || headers["X-Request-Id"] == nil {
		t.Fatalf("judged headers: %v", headers)
	}
	if !strings.HasPrefix(records[3]["decision"].(map[string]any)["refused_by"].(string), "http:agent") {
		t.Fatalf("the unidentified caller's refusal: %v", records[3]["decision"])
	}
}
