package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/tasktest"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/toolboxtest"
	"github.com/amp-bg-tasks/amp-bg-tasks/stack/compose"
	"github.com/amp-bg-tasks/amp-bg-tasks/supervisor"
	"github.com/amp-bg-tasks/amp-bg-tasks/toolbox"
)

// A Procfile's entries come up with foreman's PORTs, once each; logs
// --all shows them together, prefixed; ls groups them; down stops them
// in reverse order and leaves no process.
func TestUpLogsLsDown(t *testing.T) {
	t.Parallel()
	a := toolboxtest.NewApp(t)
	procfile := "# dev\nweb: echo \"web on $PORT\"; " + helpers.Shell("hang") + "\nworker: echo \"worker on $PORT\"; " + helpers.Shell("hang") + "\n"
	if err := os.WriteFile(filepath.Join(a.Wd, "Procfile"), []byte(procfile), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runCLI(t, a, "up")
	if code != toolbox.ExitOK {
		t.Fatalf("up: %d %q %q", code, out, errOut)
	}
	for _, re := range []string{`(?m)^web +ready +task-\S+ +PORT=5000( +running, but not listening on its PORT 5000 yet)?$`, `(?m)^worker +ready +task-\S+ +PORT=5100( +running, but not listening on its PORT 5100 yet)?$`} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("up printed no line matching %s:\n%s", re, out)
		}
	}
	if out, _, code := runCLI(t, a, "up", "web"); code != toolbox.ExitOK || !strings.Contains(out, "(already running)") {
		t.Errorf("up web again: %d %q", code, out)
	}
	tasktest.WaitFor(t, "both services printed", func() bool {
		out, _, _ := runCLI(t, a, "logs", "--all")
		return strings.Contains(out, "web    | web on 5000\n") && strings.Contains(out, "worker | worker on 5100\n")
	})
	ls, _, _ := runCLI(t, a, "ls")
	if !strings.Contains(ls, "── services of "+filepath.Join(a.Wd, "Procfile")) {
		t.Errorf("ls does not group the services:\n%s", ls)
	}
	tasks, _ := a.Store.List()
	if len(tasks) != 2 {
		t.Fatalf("%d tasks, want 2", len(tasks))
	}
	out, errOut, code = runCLI(t, a, "down")
	if code != toolbox.ExitOK || !regexp.MustCompile(`(?s)Stopped worker .*Stopped web `).MatchString(out) {
		t.Fatalf("down: %d %q %q", code, out, errOut)
	}
	for _, task := range tasks {
		if left := tasktest.MarkerProcs(t, task.ID); len(left) > 0 {
			t.Errorf("%s left %v after down", task.Label, left)
		}
	}
}

// save writes the tasks running in this folder as a process-compose.yaml
// that up starts again.
func TestSaveThenUp(t *testing.T) {
	t.Parallel()
	a := toolboxtest.NewApp(t)
	a.ParseStack = compose.Parse
	sub := filepath.Join(a.Wd, "api")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	toolboxtest.StartTask(t, a, map[string]any{"command": "echo 'web \"quoted\"'; " + helpers.Shell("hang"), "label": "web"})
	toolboxtest.StartTask(t, a, map[string]any{"command": helpers.Shell("hang"), "label": "api server", "cwd": sub, "restart": "on_failure", "max_restarts": 3})
	out, errOut, code := runCLI(t, a, "save")
	if code != toolbox.ExitOK || !strings.Contains(out, "with 2 process(es): ") || !strings.Contains(out, "web") || !strings.Contains(out, "api-server") {
		t.Fatalf("save: %d %q %q", code, out, errOut)
	}
	if _, errOut, code := runCLI(t, a, "save"); code == toolbox.ExitOK || !strings.Contains(errOut, "--force") {
		t.Errorf("a second save replaced the file: %q", errOut)
	}
	b, _ := os.ReadFile(filepath.Join(a.Wd, "process-compose.yaml"))
	for _, want := range []string{"  api-server:\n", "    working_dir: \"api\"\n", "      restart: on_failure\n      max_restarts: 3\n"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("no %q in the saved file:\n%s", want, b)
		}
	}
	if _, _, code := runCLI(t, a, "stop", "--all"); code != toolbox.ExitOK {
		t.Fatal("stop --all failed")
	}
	out, errOut, code = runCLI(t, a, "up")
	if code != toolbox.ExitOK || strings.Count(out, " ready ") != 2 {
		t.Fatalf("up from the saved file: %d %q %q", code, out, errOut)
	}
	tasks, _ := a.Store.List()
	running := map[string]*supervisor.Task{}
	for _, task := range tasks {
		if task.Status == supervisor.StatusRunning {
			running[task.Label] = task
		}
	}
	if w, s := running["web"], running["api-server"]; w == nil || s == nil || s.Cwd != sub || s.Restart.Policy != "on_failure" || s.Restart.Max != 3 || !strings.Contains(w.Command, `"quoted"`) {
		t.Errorf("after up: %+v", running)
	}
}

// Following several tasks, each one's end is said once, after its last
// lines, as following one task says it: a failed service does not end
// in silence.
func TestLogsFollowSeveralSaysEachEnd(t *testing.T) {
	t.Parallel()
	a := toolboxtest.NewApp(t)
	quick := toolboxtest.StartTask(t, a, map[string]any{"command": "echo one; exit 3", "label": "quick"})
	tasktest.WaitEnd(t, a.Store, quick.TaskID)
	toolboxtest.StartTask(t, a, map[string]any{"command": "echo two; sleep 0.5", "label": "slow"})
	out, errOut, code := runCLI(t, a, "logs", "quick", "slow", "-f")
	if code != toolbox.ExitOK {
		t.Fatalf("logs -f: exit %d\n%s", code, errOut)
	}
	if !strings.Contains(out, "quick | one") || !strings.Contains(out, "slow  | two") {
		t.Errorf("stdout %q", out)
	}
	for _, want := range []string{"[quick ended: failed, exit 3]", "[slow ended: completed"} {
		if strings.Count(errOut, want) != 1 {
			t.Errorf("stderr %q: want %q once", errOut, want)
		}
	}
}
