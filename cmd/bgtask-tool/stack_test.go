package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The lean build links no YAML, yet bg-run service= reads a
// process-compose.yaml: through the full bgtask beside it
// (bgtask __stack FILE), as the installer puts them side by side.
func TestLeanReadsProcessComposeThroughTheFullBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds bgtask and bgtask-tool")
	}
	t.Parallel()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("needs the go command (golang-go) to build both binaries")
	}
	bin := t.TempDir()
	for pkg, name := range map[string]string{"../bgtask": "bgtask", ".": "bgtask-tool"} {
		if out, err := exec.Command(goTool, "build", "-o", filepath.Join(bin, name), pkg).CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, out)
		}
	}
	if err := os.Symlink("bgtask-tool", filepath.Join(bin, "bg-run")); err != nil {
		t.Fatal(err)
	}
	project, state := t.TempDir(), t.TempDir()
	file := "processes:\n  db:\n    command: \"echo db up; exec sleep 60\"\n  web:\n    command: \"exec sleep 60\"\n    depends_on:\n      db:\n        condition: process_started\n    shutdown:\n      signal: 15\n"
	if err := os.WriteFile(filepath.Join(project, "process-compose.yaml"), []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "TASKS_DIR="+state, "BG_NOTIFY=never", "TOOLBOX_ACTION=execute")
	down := func() *exec.Cmd {
		c := exec.Command(filepath.Join(bin, "bgtask"), "down")
		c.Dir, c.Env = project, env
		return c
	}
	t.Cleanup(func() { _ = down().Run() }) // Best effort: the test's own services, if still running.

	run := exec.Command(filepath.Join(bin, "bg-run"))
	run.Dir, run.Env = project, env
	run.Stdin = strings.NewReader(`{"service":"web"}`)
	out, err := run.Output()
	if err != nil {
		t.Fatalf("bg-run service=web: %v\n%s", err, out)
	}
	var res struct {
		StackFile string `json:"stack_file"`
		Services  []struct {
			Service string `json:"service"`
			Ready   bool   `json:"ready"`
			TaskID  string `json:"task_id"`
		} `json:"services"`
		Ignored []string `json:"ignored"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("answer %s: %v", out, err)
	}
	if res.StackFile != filepath.Join(project, "process-compose.yaml") || len(res.Services) != 2 ||
		res.Services[0].Service != "db" || res.Services[1].Service != "web" || !res.Services[0].Ready || !res.Services[1].Ready {
		t.Fatalf("answer %s", out)
	}
	if len(res.Ignored) != 1 || !strings.Contains(res.Ignored[0], "processes.web.shutdown") {
		t.Errorf("ignored %q, want the shutdown key named", res.Ignored)
	}
	b, err := down().CombinedOutput()
	if err != nil || strings.Count(string(b), "Stopped ") != 2 {
		t.Errorf("bgtask down: %v\n%s", err, b)
	}

	// A file that is not YAML: the parser's fault, with its line, as
	// bgtask up says it.
	broken := t.TempDir()
	if err := os.WriteFile(filepath.Join(broken, "process-compose.yaml"), []byte("processes:\n  a: [\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := exec.Command(filepath.Join(bin, "bg-run"))
	bad.Dir, bad.Env = broken, env
	bad.Stdin = strings.NewReader(`{"service":"a"}`)
	out, err = bad.Output()
	if code := bad.ProcessState.ExitCode(); code != 1 || !strings.Contains(string(out), "process-compose.yaml:2: not valid YAML") {
		t.Errorf("bg-run service=a on a broken file: exit %d (%v), %s", code, err, out)
	}
}
