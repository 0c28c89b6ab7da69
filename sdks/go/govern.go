package agt

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"unicode"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Govern wraps fn so that every call is judged before it runs. The arguments A (a struct or a
// map with string keys) become the request's args, as encoding/json names them; the action is
// {type, tool} with tool the given name and type the normalised value of an "action" argument
// when there is one, else the tool name. The agent and context come from the Governor, overridden
// per call by ContextWithAgent and ContextWithFields.
//
// What runs is what was judged: the wrapped function receives a fresh copy of A decoded from the
// judged JSON (a caller that changes a shared slice or map after the decision changes nothing),
// and arguments whose JSON form does not read back as the same value are refused. Numbers in
// interface-typed fields arrive as json.Number.
//
// A refused call returns *DeniedError (audited); a call whose outcome could not be recorded
// returns *AuditError and does not run. When the policy has post_tool rules, the result is
// judged too, and a refused result is withheld behind a *DeniedError.
func Govern[A, R any](g *Governor, tool string, fn func(context.Context, A) (R, error)) func(context.Context, A) (R, error) {
	return func(ctx context.Context, args A) (R, error) {
		var zero R
		request, fresh, err := buildRequest(g, ctx, tool, args)
		if err != nil {
			known := g.knownRequest(ctx, tool)
			outcome, auditErr := g.Refuse(known, "request could not be built: "+err.Error(), "kernel:request")
			if auditErr != nil {
				return zero, auditErr
			}
			return zero, denied(tool, outcome, err)
		}
		outcome, err := g.Enforce(ctx, request)
		if err != nil {
			return zero, err
		}
		if !outcome.Allowed {
			return zero, denied(tool, outcome, nil)
		}
		var call A
		if fresh != nil {
			call = *fresh
		}
		result, callErr := fn(ctx, call)
		if callErr != nil || !g.postTool {
			return result, callErr
		}
		resultJSON, err := encodeResult(result)
		if err != nil {
			post := withStage(outcome.Request, "post_tool", []byte("null"))
			refused, auditErr := g.Refuse(post, "result could not be checked: "+err.Error(), "kernel:request")
			if auditErr != nil {
				return zero, auditErr
			}
			return zero, denied(tool, refused, err)
		}
		post, err := g.Enforce(ctx, withStage(outcome.Request, "post_tool", resultJSON))
		if err != nil {
			return zero, err
		}
		if !post.Allowed {
			return zero, denied(tool, post, nil)
		}
		return result, nil
	}
}

func denied(tool string, outcome Enforcement, cause error) error {
	e := &DeniedError{Tool: tool, Decision: outcome.Decision, Approval: outcome.Approval, AuditHash: outcome.AuditHash, Cause: cause}
	if a := outcome.Approval; a != nil && !a.Approved && a.Handler == "DenyApprovals" {
		e.Help = "no approval handler is configured, so approvals are refused; pass agt.WithApprovalHandler(...) to agt.New"
	}
	return e
}

type callKey struct{}

type callValues struct {
	agentID string
	agent   map[string]any
	fields  map[string]any
}

// ContextWithFields adds fields to the request context (context.<name>) of every governed call
// made with the returned context; nested calls merge, inner values winning.
func ContextWithFields(ctx context.Context, fields map[string]any) context.Context {
	current, _ := ctx.Value(callKey{}).(callValues)
	merged := map[string]any{}
	for k, v := range current.fields {
		merged[k] = v
	}
	for k, v := range fields {
		merged[k] = v
	}
	current.fields = merged
	return context.WithValue(ctx, callKey{}, current)
}

// ContextWithAgent makes governed calls with the returned context act as this agent (agent.id
// and attributes), in place of the Governor's agent: e.g. the authenticated caller of a request.
func ContextWithAgent(ctx context.Context, id string, attributes map[string]any) context.Context {
	current, _ := ctx.Value(callKey{}).(callValues)
	current.agentID = id
	current.agent = attributes
	return context.WithValue(ctx, callKey{}, current)
}

func (g *Governor) callParts(ctx context.Context) (agent, fields []byte, err error) {
	values, ok := ctx.Value(callKey{}).(callValues)
	agent, fields = g.agentJSON, g.contextJSON
	if !ok {
		return agent, fields, nil
	}
	if values.agentID != "" {
		merged := map[string]any{}
		for k, v := range values.agent {
			merged[k] = v
		}
		merged["id"] = values.agentID
		if agent, err = encodeObject(merged, "agent"); err != nil {
			return nil, nil, err
		}
	}
	if len(values.fields) > 0 {
		merged := map[string]any{}
		for k, v := range g.context {
			merged[k] = v
		}
		for k, v := range values.fields {
			merged[k] = v
		}
		if fields, err = encodeObject(merged, "context"); err != nil {
			return nil, nil, err
		}
	}
	return agent, fields, nil
}

type wireRequest struct {
	Action  json.RawMessage `json:"action"`
	Args    json.RawMessage `json:"args"`
	Agent   json.RawMessage `json:"agent"`
	Context json.RawMessage `json:"context"`
	Stage   string          `json:"stage"`
}

// buildRequest is the pre_tool request for one call and the fresh arguments the function receives.
func buildRequest[A any](g *Governor, ctx context.Context, tool string, args A) ([]byte, *A, error) {
	argsJSON, err := encodeArgs(args)
	if err != nil {
		return nil, nil, err
	}
	fresh := new(A)
	decoder := json.NewDecoder(bytes.NewReader(argsJSON))
	decoder.UseNumber()
	if err := decoder.Decode(fresh); err != nil {
		return nil, nil, &RequestError{Message: fmt.Sprintf("the arguments do not read back from their JSON form: %v", err)}
	}
	again, err := encodeArgs(fresh)
	if err != nil || !bytes.Equal(again, argsJSON) {
		return nil, nil, &RequestError{
			Message: "the arguments do not survive a JSON round trip, so the function would not receive what was judged",
			Help:    "use plain exported fields of JSON types (unexported fields and lossy MarshalJSON methods cannot be judged)",
		}
	}
	action, err := actionOf(tool, argsJSON)
	if err != nil {
		return nil, nil, err
	}
	agent, fields, err := g.callParts(ctx)
	if err != nil {
		return nil, nil, err
	}
	request, err := json.Marshal(wireRequest{Action: action, Args: argsJSON, Agent: agent, Context: fields, Stage: "pre_tool"})
	if err != nil {
		return nil, nil, &RequestError{Message: "request could not be encoded: " + err.Error()}
	}
	return request, fresh, nil
}

// knownRequest is what is known of a call whose arguments could not be read: its tool, agent and
// context, never the arguments.
func (g *Governor) knownRequest(ctx context.Context, tool string) []byte {
	agent, fields, err := g.callParts(ctx)
	if err != nil {
		agent, fields = g.agentJSON, g.contextJSON
	}
	action, _ := json.Marshal(map[string]string{"type": tool, "tool": tool})
	request, _ := json.Marshal(wireRequest{Action: action, Args: []byte("{}"), Agent: agent, Context: fields, Stage: "pre_tool"})
	return request
}

func actionOf(tool string, argsJSON []byte) ([]byte, error) {
	var args map[string]json.RawMessage
	if err := json.Unmarshal(argsJSON, &args); err != nil {
		return nil, &RequestError{Message: "the arguments are not a JSON object"}
	}
	given, ok := args["action"]
	if !ok || string(given) == "null" {
		return json.Marshal(map[string]string{"type": tool, "tool": tool})
	}
	var text string
	if json.Unmarshal(given, &text) == nil {
		return json.Marshal(map[string]string{"type": NormalizeAction(text), "tool": tool})
	}
	var object map[string]json.RawMessage
	if json.Unmarshal(given, &object) == nil {
		var kind string
		if raw, ok := object["type"]; !ok || json.Unmarshal(raw, &kind) != nil {
			return nil, &RequestError{Message: "argument `action` is a mapping without a string `type`"}
		}
		object["type"], _ = json.Marshal(NormalizeAction(kind))
		object["tool"], _ = json.Marshal(tool)
		return json.Marshal(object)
	}
	return nil, &RequestError{
		Message: fmt.Sprintf("argument `action` is `%s`, which cannot name an action", truncate(string(given), 40)),
		Help:    "pass the action as a string (or an object with a string `type`)",
	}
}

// NormalizeAction is the form of an action name that policies see as action.type: Unicode
// NFKC, case-folded, invisible format characters removed, surrounding whitespace stripped (as
// the Python toolkit does), so `action.type in ['drop']` refuses every spelling a database or a
// shell would treat as "drop".
func NormalizeAction(text string) string {
	folded := text
	if isASCII(text) {
		folded = strings.ToLower(text)
	} else {
		folded = cases.Fold().String(norm.NFKC.String(text))
		folded = strings.Map(func(r rune) rune {
			if unicode.Is(unicode.Cf, r) {
				return -1
			}
			return r
		}, folded)
		folded = norm.NFKC.String(folded)
	}
	return strings.TrimFunc(folded, isPythonSpace)
}

// isPythonSpace is what Python's str.strip() strips: Unicode White_Space plus the information
// separators U+001C..U+001F, so "drop\x1f" is "drop" here as it is to the Python toolkit.
func isPythonSpace(r rune) bool {
	return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func encodeResult(result any) ([]byte, error) {
	var buf bytes.Buffer
	if err := encodeValue(&buf, reflectValue(result), 0, "result"); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// withStage is the judged request at another stage, with the tool's result.
func withStage(request []byte, stage string, result []byte) []byte {
	var fields map[string]json.RawMessage
	if json.Unmarshal(request, &fields) != nil {
		fields = map[string]json.RawMessage{}
	}
	fields["stage"], _ = json.Marshal(stage)
	fields["result"] = result
	out, _ := json.Marshal(fields)
	return out
}
