// Command agt-trail writes and verifies audit trails with the Go SDK, for the cross-language
// audit test (sdks/cross): a trail written by any SDK must verify in every other.
//
//	agt-trail write POLICY OUT.jsonl [CALLS.json]
//	    runs the governed calls in CALLS.json (default: conformance/audit/cross_calls.json, a list
//	    of {tool, args, agent}) through agt.Govern with an in-memory audit log, writes the trail as
//	    JSON lines and prints {"head": "<hash>", "count": N}
//	agt-trail verify TRAIL.jsonl --head H --count N
//	    exits 0 when the trail verifies against that head and count, 1 with the reason otherwise
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	agt "github.com/agt-toolkit/agent-governance-toolkit/sdks/go"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "write":
		err = write(os.Args[2:])
	case "verify":
		err = verify(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "agt-trail:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: agt-trail write POLICY OUT.jsonl [CALLS.json] | verify TRAIL.jsonl --head H --count N")
	os.Exit(2)
}

type call struct {
	Tool  string          `json:"tool"`
	Args  json.RawMessage `json:"args"`
	Agent json.RawMessage `json:"agent"`
}

func defaultCalls() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "..", "conformance", "audit", "cross_calls.json")
}

func write(args []string) error {
	if len(args) < 2 || len(args) > 3 {
		usage()
	}
	callsPath := defaultCalls()
	if len(args) == 3 {
		callsPath = args[2]
	}
	data, err := os.ReadFile(callsPath)
	if err != nil {
		return err
	}
	var calls []call
	if err := json.Unmarshal(data, &calls); err != nil {
		var wrapped struct {
			Calls []call `json:"calls"`
		}
		if err2 := json.Unmarshal(data, &wrapped); err2 != nil || wrapped.Calls == nil {
			return fmt.Errorf("%s: expected a list of {tool, args, agent}: %v", callsPath, err)
		}
		calls = wrapped.Calls
	}
	g, err := agt.NewFromFile(args[0])
	if err != nil {
		return err
	}
	tools := map[string]func(context.Context, map[string]any) (any, error){}
	for i, c := range calls {
		id, attributes, err := agentOf(c.Agent)
		if err != nil {
			return fmt.Errorf("call %d: %v", i, err)
		}
		values, err := decode(c.Args)
		if err != nil {
			return fmt.Errorf("call %d: args: %v", i, err)
		}
		tool, ok := tools[c.Tool]
		if !ok {
			name := c.Tool
			tool = agt.Govern(g, name, func(context.Context, map[string]any) (any, error) { return name + " ran", nil })
			tools[name] = tool
		}
		ctx := context.Background()
		if id != "" {
			ctx = agt.ContextWithAgent(ctx, id, attributes)
		}
		if _, err := tool(ctx, values); err != nil {
			var denied *agt.DeniedError
			if !errors.As(err, &denied) {
				return fmt.Errorf("call %d (%s): %v", i, c.Tool, err)
			}
		}
	}
	out, err := os.Create(args[1])
	if err != nil {
		return err
	}
	if _, err := g.AuditLog().WriteTo(out); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	head := g.AuditLog().Head()
	return json.NewEncoder(os.Stdout).Encode(map[string]any{"head": head.Hash, "count": head.Count})
}

func decode(raw json.RawMessage) (map[string]any, error) {
	values := map[string]any{}
	if len(raw) == 0 || string(raw) == "null" {
		return values, nil
	}
	decoder := json.NewDecoder(bytes.NewReader(raw))
	decoder.UseNumber() // numbers keep their spelling: 5 stays an int, 5.0 a double
	err := decoder.Decode(&values)
	return values, err
}

func agentOf(raw json.RawMessage) (string, map[string]any, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil, nil
	}
	var id string
	if json.Unmarshal(raw, &id) == nil {
		return id, nil, nil
	}
	attributes, err := decode(raw)
	if err != nil {
		return "", nil, fmt.Errorf("agent: %v", err)
	}
	id, ok := attributes["id"].(string)
	if !ok {
		return "", nil, errors.New("agent has no string id")
	}
	delete(attributes, "id")
	return id, attributes, nil
}

func verify(args []string) error {
	if len(args) < 1 {
		usage()
	}
	flags := flag.NewFlagSet("verify", flag.ExitOnError)
	head := flags.String("head", "", "hash the trail must end at")
	count := flags.Int64("count", -1, "number of records the trail must hold")
	if err := flags.Parse(args[1:]); err != nil {
		return err
	}
	file, err := os.Open(args[0])
	if err != nil {
		return err
	}
	defer file.Close()
	lines, err := agt.ReadLines(file)
	if err != nil {
		return err
	}
	got, err := agt.VerifyLines(lines, *head, *count)
	if err != nil {
		return err
	}
	fmt.Printf("verified %d records ending at %s\n", got.Count, got.Hash)
	return nil
}
