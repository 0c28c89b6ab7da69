package agt

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The README's example, run as written: its policy.yaml block, its program (go run in a module
// that points at this one), and the output it shows.
func TestReadmeExample(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a separate program")
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```(\\w+)\\n(.*?)```").FindAllStringSubmatch(string(readme), -1)
	var policy, program, output string
	for _, b := range blocks {
		switch {
		case b[1] == "yaml" && strings.HasPrefix(b[2], "# policy.yaml"):
			policy = b[2]
		case b[1] == "go" && strings.HasPrefix(b[2], "package main"):
			program = b[2]
		case b[1] == "text" && program != "" && output == "":
			output = b[2]
		}
	}
	if policy == "" || program == "" || output == "" {
		t.Fatal("the README needs a `# policy.yaml` block, a `package main` block and its output")
	}
	here, _ := filepath.Abs(".")
	dir := t.TempDir()
	sum, _ := os.ReadFile("go.sum")
	files := map[string]string{
		"policy.yaml": policy,
		"main.go":     program,
		"go.sum":      string(sum),
		"go.mod": "module example\n\ngo 1.19\n\nrequire github.com/agt-toolkit/agent-governance-toolkit/sdks/go v0.0.0\n\n" +
			"replace github.com/agt-toolkit/agent-governance-toolkit/sdks/go => " + here + "\n",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("go", "run", "-mod=mod", ".")
	cmd.Dir = dir
	got, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go run: %v\n%s", err, got)
	}
	if string(got) != output {
		t.Fatalf("the README's example printed\n%s\nnot\n%s", got, output)
	}
}
