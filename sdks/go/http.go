package agt

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"strings"
)

// MiddlewareOptions configures Governor.Middleware.
type MiddlewareOptions struct {
	// Agent names the caller of a request (e.g. from a verified token): its id and attributes.
	// An error refuses the request (401, audited). Nil: every request acts as the Governor's agent.
	Agent func(r *http.Request) (id string, attributes map[string]any, err error)
	// Headers lists the request headers judged as args.headers (canonical names); others are
	// never sent to the policy or the audit log (they may hold credentials).
	Headers []string
}

type enforcementKey struct{}

// EnforcementFrom returns the outcome that let an HTTP request through Middleware.
func EnforcementFrom(ctx context.Context) (Enforcement, bool) {
	e, ok := ctx.Value(enforcementKey{}).(Enforcement)
	return e, ok
}

// Middleware judges every HTTP request before next handles it. The request is
// {action: {type: <method, lowercase>, tool}, args: {method, path, query, headers}, agent,
// context, stage: "pre_tool"}, so a policy can say `action.type == 'delete' && args.path.startsWith('/admin')`.
// The body is not judged (it is a stream the handler reads); govern the function that acts on it
// with Govern when its contents matter.
//
// Refusals answer with a JSON error: 403 for a deny or a refused approval, 429 when a rate limit
// is exhausted, 401 when opts.Agent fails, 503 when the decision could not be recorded or the
// approval handler failed. Allowed requests reach next with the Enforcement in their context.
func (g *Governor) Middleware(tool string, next http.Handler, opts MiddlewareOptions) http.Handler {
	headers := make([]string, len(opts.Headers))
	for i, h := range opts.Headers {
		headers[i] = http.CanonicalHeaderKey(h)
	}
	sort.Strings(headers)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if opts.Agent != nil {
			id, attributes, err := opts.Agent(r)
			if err == nil && id == "" {
				err = errors.New("no agent id")
			}
			if err != nil {
				outcome, auditErr := g.Refuse(g.knownRequest(ctx, tool), "caller could not be identified: "+err.Error(), "http:agent")
				if auditErr != nil {
					writeRefusal(w, http.StatusServiceUnavailable, auditErr.Error(), nil)
					return
				}
				writeRefusal(w, http.StatusUnauthorized, outcome.Decision.Summary(), &outcome)
				return
			}
			ctx = ContextWithAgent(ctx, id, attributes)
		}
		request, err := g.httpRequest(ctx, tool, r, headers)
		if err != nil {
			outcome, auditErr := g.Refuse(g.knownRequest(ctx, tool), "request could not be built: "+err.Error(), "kernel:request")
			if auditErr != nil {
				writeRefusal(w, http.StatusServiceUnavailable, auditErr.Error(), nil)
				return
			}
			writeRefusal(w, http.StatusBadRequest, outcome.Decision.Summary(), &outcome)
			return
		}
		outcome, err := g.Enforce(ctx, request)
		if err != nil {
			writeRefusal(w, http.StatusServiceUnavailable, err.Error(), nil)
			return
		}
		if !outcome.Allowed {
			status := http.StatusForbidden
			if outcome.Decision.RateLimited {
				status = http.StatusTooManyRequests
			}
			writeRefusal(w, status, outcome.Decision.Summary(), &outcome)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(ctx, enforcementKey{}, outcome)))
	})
}

func (g *Governor) httpRequest(ctx context.Context, tool string, r *http.Request, headers []string) ([]byte, error) {
	query := map[string]any{}
	for k, v := range r.URL.Query() {
		query[k] = v
	}
	judged := map[string]any{}
	for _, h := range headers {
		if values := r.Header.Values(h); len(values) > 0 {
			judged[h] = values
		}
	}
	args, err := encodeObject(map[string]any{"method": r.Method, "path": r.URL.Path, "query": query, "headers": judged}, "args")
	if err != nil {
		return nil, err
	}
	agent, fields, err := g.callParts(ctx)
	if err != nil {
		return nil, err
	}
	action, err := json.Marshal(map[string]string{"type": NormalizeAction(r.Method), "tool": tool})
	if err != nil {
		return nil, err
	}
	return json.Marshal(wireRequest{Action: action, Args: args, Agent: agent, Context: fields, Stage: "pre_tool"})
}

type refusalBody struct {
	Error     string  `json:"error"`
	Effect    Effect  `json:"effect,omitempty"`
	Rule      *string `json:"rule,omitempty"`
	Policy    *string `json:"policy,omitempty"`
	AuditHash string  `json:"audit_hash,omitempty"`
}

func writeRefusal(w http.ResponseWriter, status int, message string, outcome *Enforcement) {
	body := refusalBody{Error: strings.TrimSpace(message)}
	if outcome != nil {
		body.Effect, body.Rule, body.Policy, body.AuditHash = outcome.Decision.Effect, outcome.Decision.Rule, outcome.Decision.Policy, outcome.AuditHash
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
