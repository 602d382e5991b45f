package toolbox

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// The describe output is the tools' public interface: a change to it must
// be deliberate (go test ./toolbox -run Golden -update) and show in review.
func TestDescribeGolden(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	for _, tool := range Tools() {
		var out bytes.Buffer
		a.Stdout = &out
		if code := a.ServeToolbox(t.Context(), tool, "describe"); code != ExitOK {
			t.Fatalf("%s: exit %d", tool.Name, code)
		}
		golden := filepath.Join("testdata", "describe", tool.Name+".json")
		if *update {
			if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run with -update to create)", err)
		}
		if !bytes.Equal(out.Bytes(), want) {
			t.Errorf("%s describe differs from %s:\n%s", tool.Name, golden, out.Bytes())
		}
	}
}

// A toolbox call finds its tool by name without building the others: the
// name it is listed under must be the name the tool says it has, for
// both spellings of the toolbox entry.
func TestToolByCommandFindsEveryTool(t *testing.T) {
	t.Parallel()
	for _, m := range toolMakers() {
		if got := m.build().Name; got != m.name {
			t.Errorf("listed as %q, built as %q", m.name, got)
		}
		for _, cmd := range []string{m.name, ToolCommand(m.name)} {
			if tool := ToolByCommand(cmd); tool == nil || tool.Name != m.name {
				t.Errorf("ToolByCommand(%q) = %v, want %s", cmd, tool, m.name)
			}
		}
	}
	if tool := ToolByCommand("bg-nope"); tool != nil {
		t.Errorf("ToolByCommand(bg-nope) = %s, want nil", tool.Name)
	}
}
