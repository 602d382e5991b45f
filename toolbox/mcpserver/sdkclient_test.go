package mcpserver

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/amp-bg-tasks/amp-bg-tasks/toolbox/toolboxtest"
)

// sdkVersion is the @modelcontextprotocol/sdk the test installs: 1.32
// runs on Node 20.
const sdkVersion = "1.32.2"

// The server as the official TypeScript SDK client sees it: it lists every
// tool with its output schema and hints, runs each with good arguments
// (answers that the client itself checks against the output schema) and
// answers bad ones with tool errors naming the parameter. Needs node and
// npm, and the npm registry (.ci/run has them); skips otherwise.
func TestTypeScriptSDKClient(t *testing.T) {
	if testing.Short() {
		t.Skip("installs an npm package")
	}
	for _, bin := range []string{"node", "npm"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s not found: install the Debian packages nodejs and npm to drive the server with the TypeScript MCP SDK", bin)
		}
	}
	dir := t.TempDir()
	install := exec.Command("npm", "install", "--prefix", dir, "--no-audit", "--no-fund", "--loglevel=error", "@modelcontextprotocol/sdk@"+sdkVersion)
	install.Env = append(os.Environ(), "npm_config_cache="+filepath.Join(dir, ".npm"))
	if out, err := install.CombinedOutput(); err != nil {
		t.Skipf("npm install @modelcontextprotocol/sdk@%s failed (no registry?): %v\n%s", sdkVersion, err, out)
	}
	script, err := os.ReadFile(filepath.Join("testdata", "sdkclient.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	// Beside node_modules, where its imports resolve.
	if err := os.WriteFile(filepath.Join(dir, "sdkclient.mjs"), script, 0o644); err != nil {
		t.Fatal(err)
	}
	a := toolboxtest.NewApp(t)
	cmd := exec.Command("node", filepath.Join(dir, "sdkclient.mjs"))
	cmd.Dir = a.Wd
	cmd.Env = append(a.Environ, "BG_SERVER="+os.Args[0], toolboxtest.MainAsEnv+"=bgtask", "TASKS_DIR="+a.Store.Dir)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node sdkclient.mjs: %v\n%s", err, stderr.String())
	}
	defer func() {
		if t.Failed() {
			t.Logf("the client's report: %s", out)
		}
	}()
	var report struct {
		Server       struct{ Name string }
		Instructions int
		Tools        []struct {
			Name                  string
			OutputSchema          bool
			ReadOnly, Destructive *bool
		}
		Calls []struct {
			Kind, Name, Text, Thrown string
			IsError                  bool
			Structured               map[string]any
		}
	}
	if err := json.Unmarshal(out, &report); err != nil {
		t.Fatalf("report: %v\n%s", err, out)
	}
	if report.Server.Name != "amp-bg-tasks" || report.Instructions == 0 {
		t.Errorf("server %q, instructions %d characters", report.Server.Name, report.Instructions)
	}
	want := map[string]struct{ readOnly, destructive bool }{
		"bg_run": {false, false}, "bg_status": {true, false}, "bg_output": {true, false},
		"bg_stop": {false, true}, "bg_send": {false, false},
	}
	if len(report.Tools) != len(want) {
		t.Errorf("%d tools listed, want %d", len(report.Tools), len(want))
	}
	for _, tool := range report.Tools {
		w, ok := want[tool.Name]
		if !ok || !tool.OutputSchema || tool.ReadOnly == nil || *tool.ReadOnly != w.readOnly || tool.Destructive == nil || *tool.Destructive != w.destructive {
			t.Errorf("tool %s: output schema %v, readOnly %v, destructive %v", tool.Name, tool.OutputSchema, tool.ReadOnly, tool.Destructive)
		}
	}
	called := map[string]bool{}
	for _, c := range report.Calls {
		switch c.Kind {
		case "good":
			called[c.Name] = true
			if c.Thrown != "" || c.IsError || c.Structured == nil {
				t.Errorf("%s: thrown %q, isError %v, text %.300s", c.Name, c.Thrown, c.IsError, c.Text)
			}
		case "bad":
			if c.Thrown != "" || !c.IsError || !strings.Contains(c.Text, ":") {
				t.Errorf("%s with bad arguments: thrown %q, isError %v, text %q; want a tool error naming the parameter", c.Name, c.Thrown, c.IsError, c.Text)
			}
		case "unknown":
			if c.Thrown == "" && !c.IsError {
				t.Errorf("an unknown tool answered: %q", c.Text)
			}
		}
	}
	for name := range want {
		if !called[name] {
			t.Errorf("%s was not called with good arguments", name)
		}
	}
	// The interactive task got what was sent.
	for _, c := range report.Calls {
		if c.Name == "bg_run" && c.Kind == "good" && c.Structured["ready"] == false {
			t.Errorf("bg_run wait_for did not see its line: %v", c.Structured)
		}
	}
}
