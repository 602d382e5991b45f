package mcpserver

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/toolboxtest"
)

// sdkVersion is the @modelcontextprotocol/sdk the test installs: 1.32
// runs on Node 20.
const sdkVersion = "1.32.2"

// The server as the official TypeScript SDK client sees it: it lists every
// tool with its output schema and hints, runs each with good arguments
// (answers that the client itself checks against the output schema) and
// answers bad ones with tool errors naming the parameter (tools); a wait
// longer than the client's request timeout (wait90s); sessions of one
// client (sessions, see sessions_test.go). The SDK is installed once for
// the three, which run in parallel: the wait is most of the package's
// time. Needs node and npm, and the npm registry (.ci/run has them);
// skips otherwise.
func TestTypeScriptSDKClient(t *testing.T) {
	t.Parallel()
	dir := installTypeScriptSDK(t)
	// The longest first, so that it has a test slot (-parallel) first.
	t.Run("wait90s", func(t *testing.T) {
		t.Parallel()
		checkWaitReport(t, runNodeClient(t, dir, "sdkwait.mjs"))
	})
	t.Run("tools", func(t *testing.T) {
		t.Parallel()
		checkToolsReport(t, runNodeClient(t, dir, "sdkclient.mjs"))
	})
	t.Run("sessions", func(t *testing.T) {
		t.Parallel()
		checkSessionsReport(t, runNodeClient(t, dir, "sdksessions.mjs"))
	})
}

// installTypeScriptSDK installs the SDK into a temporary folder and
// returns it; it skips the test without node, npm or the registry.
func installTypeScriptSDK(t *testing.T) string {
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
	return dir
}

// runNodeClient runs testdata/<script> with node, beside the SDK in dir,
// against `bgtask mcp` (the test binary) and returns what it prints.
func runNodeClient(t *testing.T, dir, script string) []byte {
	b, err := os.ReadFile(filepath.Join("testdata", script))
	if err != nil {
		t.Fatal(err)
	}
	// Beside node_modules, where its imports resolve.
	if err := os.WriteFile(filepath.Join(dir, script), b, 0o644); err != nil {
		t.Fatal(err)
	}
	a := toolboxtest.NewApp(t)
	cmd := exec.Command("node", filepath.Join(dir, script))
	cmd.Dir = a.Wd
	cmd.Env = append(a.Environ, "BG_SERVER="+os.Args[0], toolboxtest.MainAsEnv+"=bgtask", "TASKS_DIR="+a.Store.Dir)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node %s: %v\n%s", script, err, stderr.String())
	}
	return out
}

// checkToolsReport checks sdkclient.mjs's report.
func checkToolsReport(t *testing.T, out []byte) {
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

// A wait of 90 s through the stock TypeScript SDK client, which gives up
// on a request after 60 s: an answer, never a timeout. Without onprogress
// each call is answered within the server's bound (toolbox.CallBound) with
// wait_left, and following the call it names reaches the task's end; with
// onprogress and resetTimeoutOnProgress the one call gets progress
// notifications and the task's real result after more than 60 s.
func checkWaitReport(t *testing.T, out []byte) {
	defer func() {
		if t.Failed() {
			t.Logf("the client's report: %s", out)
		}
	}()
	type call struct {
		Tool, Thrown string
		IsError      bool
		Seconds      float64
		Structured   struct {
			Status   string  `json:"status"`
			ExitCode *int    `json:"exit_code"`
			WaitLeft float64 `json:"wait_left"`
			Message  string  `json:"message"`
			Stdout   string  `json:"stdout"`
		}
	}
	var report struct {
		Plain    struct{ Calls []call }
		Progress struct {
			Call          call
			Notifications int
		}
	}
	if err := json.Unmarshal(out, &report); err != nil {
		t.Fatalf("report: %v\n%s", err, out)
	}
	calls := report.Plain.Calls
	if len(calls) < 2 {
		t.Fatalf("without progress: %d calls, want the first cut short and at least one more", len(calls))
	}
	if first := calls[0].Structured; first.WaitLeft <= 0 || !strings.Contains(first.Message, "bg_status task_id=") {
		t.Errorf("without progress, bg_run's answer has no wait_left or no call to go on with: %+v", first)
	}
	for i, c := range calls {
		// The server answers at its 25 s bound; the margin is for a
		// loaded machine, and stays under the client's 60 s.
		if c.Thrown != "" || c.IsError || c.Seconds > 45 {
			t.Errorf("without progress, call %d (%s): thrown %q, isError %v, after %.1f s", i, c.Tool, c.Thrown, c.IsError, c.Seconds)
		}
	}
	if last := calls[len(calls)-1].Structured; last.Status != "completed" || last.ExitCode == nil || *last.ExitCode != 0 || last.WaitLeft != 0 {
		t.Errorf("without progress, the last answer: %+v, want the task's end", last)
	}
	p := report.Progress
	if p.Call.Thrown != "" || p.Call.IsError || p.Call.Seconds < 60 {
		t.Errorf("with progress: thrown %q, isError %v, after %.1f s; want an answer after more than 60 s", p.Call.Thrown, p.Call.IsError, p.Call.Seconds)
	}
	if s := p.Call.Structured; s.Status != "completed" || s.ExitCode == nil || *s.ExitCode != 0 || !strings.Contains(s.Stdout, "finished") {
		t.Errorf("with progress, the answer: %+v, want the task's end and its output", s)
	}
	// One every toolbox.ProgressEvery (5 s) over at least 60 s.
	if p.Notifications < 8 {
		t.Errorf("with progress: %d progress notifications in %.1f s", p.Notifications, p.Call.Seconds)
	}
}
