package agt_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	agt "github.com/agt-toolkit/agent-governance-toolkit/sdks/go"
)

// An HTTP API behind the middleware: DELETE under /admin is refused before the handler runs.
func ExampleGovernor_Middleware() {
	policy, err := agt.CompilePolicyYAML(`
apiVersion: governance.toolkit/v1
name: api
default_action: allow
rules:
- name: no-admin-deletes
  condition: "action.type == 'delete' && args.path.startsWith('/admin')"
  action: deny
`)
	if err != nil {
		panic(err)
	}
	gov, err := agt.New(policy, agt.WithAgent("web", nil))
	if err != nil {
		panic(err)
	}
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "done") })
	server := httptest.NewServer(gov.Middleware("api", api, agt.MiddlewareOptions{}))
	defer server.Close()

	for _, method := range []string{"GET", "DELETE"} {
		req, _ := http.NewRequest(method, server.URL+"/admin/users/7", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var refusal struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(body, &refusal) == nil {
			body = []byte(refusal.Error)
		}
		fmt.Println(method, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	fmt.Println(gov.AuditLog().Len(), "audit records")
	// Output:
	// GET 200 done
	// DELETE 403 deny by rule `no-admin-deletes` of policy `api`
	// 2 audit records
}
