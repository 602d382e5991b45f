package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/helperproc"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/taskid"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/tasktest"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/toolboxtest"
	"github.com/amp-bg-tasks/amp-bg-tasks/remote"
	"github.com/amp-bg-tasks/amp-bg-tasks/supervisor"
	"github.com/amp-bg-tasks/amp-bg-tasks/toolbox"
)

// A command that exits while a background child still holds its terminal:
// the task ends with the command, its last output captured, and the child
// (part of the task's tree) is stopped too.
func TestCommandExitEndsLeftoversAndKeepsLastOutput(t *testing.T) {
	t.Parallel()
	a := toolboxtest.NewApp(t)
	// The leftover writes "ready" into a fifo that the command reads and
	// echoes before its last words: a fixed sleep lost the child's line on
	// a loaded machine (the command ended before the child had started).
	fifo := filepath.Join(t.TempDir(), "ready")
	cmd := fmt.Sprintf("mkfifo %[1]s; %[2]s > %[1]s & IFS= read -r l < %[1]s; echo \"$l\"; printf 'last words without newline'", fifo, helpers.Shell("hang"))
	r := toolboxtest.StartTask(t, a, map[string]any{"command": cmd})
	task := tasktest.WaitEnd(t, a.Store, r.TaskID)
	if task.Status != supervisor.StatusCompleted {
		t.Fatalf("status %s", task.Status)
	}
	out := tasktest.ReadFile(t, filepath.Join(task.Dir, "stdout"))
	if out != "ready\nlast words without newline" {
		t.Fatalf("stdout %q", out)
	}
	if left := tasktest.MarkerProcs(t, r.TaskID); len(left) != 0 {
		t.Fatalf("left running after the command exited: %v", left)
	}
}

// syncBuffer is a bytes.Buffer safe to read while a command writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// `bgtask logs -f` prints every byte once, across rotations, and returns
// when the task ends.
func TestLogsFollowAcrossRotation(t *testing.T) {
	t.Parallel()
	a := toolboxtest.NewApp(t, "BG_LOG_MAX_MB=0.01", "BG_LOG_BACKUPS=0") // 10 KB segments, all kept.
	const size = 300_000
	r := toolboxtest.StartTask(t, a, map[string]any{"command": "sleep 0.3; " + helpers.Shell("flood", "300000", "9")})
	var out syncBuffer
	a.Stdout, a.Stderr = &out, io.Discard
	if code := Run(context.Background(), a, "bgtask", []string{"logs", r.TaskID, "-f"}); code != toolbox.ExitOK {
		t.Fatalf("logs -f: exit %d", code)
	}
	if got := out.String(); got != string(helperproc.FloodBytes(size, 9)) {
		t.Fatalf("logs -f printed %d bytes, want the %d written, in order", len(got), size)
	}
	names, _ := filepath.Glob(filepath.Join(a.Store.Dir, r.TaskID, "stdout-*"))
	if len(names) < 20 {
		t.Fatalf("only %d rotations: the test did not exercise following across them", len(names))
	}
}

func TestCLIRunListStatusStop(t *testing.T) {
	t.Parallel()
	a := toolboxtest.NewApp(t)
	var out, errOut bytes.Buffer
	a.Stdout, a.Stderr = &out, &errOut
	cli := func(args ...string) string {
		t.Helper()
		out.Reset()
		if code := Run(context.Background(), a, "bgtask", args); code != toolbox.ExitOK {
			t.Fatalf("bgtask %v: exit %d: %s", args, code, errOut.String())
		}
		return out.String()
	}
	id := strings.Fields(cli("run", "--label", "srv", "--timeout", "5", "--", os.Args[0], "-test.run=^$"))[0]
	if err := taskid.ValidID(id); err != nil {
		t.Fatalf("run printed %q", out.String())
	}
	tasktest.WaitEnd(t, a.Store, id)
	if ls := cli("ls"); !strings.Contains(ls, id) || !strings.Contains(ls, "srv") || !strings.Contains(ls, "1 task(s), 0 running") {
		t.Fatalf("ls printed %q", ls)
	}
	if st := cli("status", id); !strings.Contains(st, "completed (exit 0)") {
		t.Fatalf("status printed %q", st)
	}
	if stop := cli("stop", id); !strings.Contains(stop, "not running") {
		t.Fatalf("stop printed %q", stop)
	}
	errOut.Reset()
	if code := Run(context.Background(), a, "bgtask", []string{"stop"}); code != toolbox.ExitError || !strings.Contains(errOut.String(), "Usage: bgtask stop") {
		t.Fatalf("stop without id: exit %d, %q", code, errOut.String())
	}
	if got := shellJoin([]string{"echo", "it's", "a b", "ok"}); got != `echo 'it'\''s' 'a b' ok` {
		t.Fatalf("shellJoin: %s", got)
	}
}

func TestLogsDigest(t *testing.T) {
	t.Parallel()
	a := toolboxtest.NewApp(t)
	r := toolboxtest.StartTask(t, a, map[string]any{"command": "seq 1 3000; echo 'src/app.ts:3:7 - error TS2304: Cannot find name x'; seq 1 3000; echo 'Found 1 error.'; exit 2"})
	tasktest.WaitEnd(t, a.Store, r.TaskID)
	var out bytes.Buffer
	a.Stdout, a.Stderr = &out, io.Discard
	if code := Run(context.Background(), a, "bgtask", []string{"logs", r.TaskID, "--digest"}); code != toolbox.ExitOK {
		t.Fatalf("logs --digest: exit %d", code)
	}
	for _, want := range []string{"error TS2304: Cannot find name x", "Found 1 error.", "lines"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("digest %q misses %q", out.String(), want)
		}
	}
	if n := strings.Count(out.String(), "\n"); n > 150 {
		t.Fatalf("digest of %d lines", n)
	}
}

// People address tasks by label, restart and remove them, and read both
// streams.
func TestCLILabelsRestartRmAndBothStreams(t *testing.T) {
	t.Parallel()
	a := toolboxtest.NewApp(t)
	cli := func(args ...string) (string, string, toolbox.ExitCode) {
		var out, errOut bytes.Buffer
		a.Stdout, a.Stderr = &out, &errOut
		code := Run(context.Background(), a, "bgtask", args)
		return out.String(), errOut.String(), code
	}
	r := toolboxtest.StartTask(t, a, map[string]any{"command": "seq 1 5; echo 'error: boom' >&2; exit 1", "label": "demo"})
	tasktest.WaitEnd(t, a.Store, r.TaskID)
	out, errOut, code := cli("logs", "demo", "-n", "2")
	if code != toolbox.ExitOK || out != "4\n5\n" || errOut != "error: boom\n" {
		t.Fatalf("logs demo -n 2: %d %q %q", code, out, errOut)
	}
	if out, _, code := cli("status", "demo"); code != toolbox.ExitOK || !strings.Contains(out, r.TaskID) {
		t.Fatalf("status demo: %d %q", code, out)
	}
	// The README's demo: restart, stop, rm leave no row behind.
	out, errOut, code = cli("restart", "demo")
	if code != toolbox.ExitOK || taskid.ValidID(strings.TrimSpace(out)) != nil || !strings.Contains(errOut, "Restarted demo as ") || !strings.Contains(errOut, "bgtask logs demo -f") {
		t.Fatalf("restart demo: %d %q %q", code, out, errOut)
	}
	l := toolboxtest.Call[toolbox.StatusList](t, a, toolbox.StatusTool(), `{}`)
	if len(l.Tasks) != 1 || l.Tasks[0].Label != "demo" || l.Tasks[0].Restarts != 1 || l.Tasks[0].TaskID != r.TaskID {
		t.Fatalf("after restart: %+v", l.Tasks)
	}
	tasktest.WaitEnd(t, a.Store, l.Tasks[0].TaskID)
	if _, errOut, code := cli("restart", "demo"); code != toolbox.ExitOK {
		t.Fatalf("restart demo again: %d %q", code, errOut)
	}
	if ls, _, _ := cli("ls"); strings.Count(ls, "demo") != 1 || !strings.Contains(ls, "demo (restarted 2)") {
		t.Fatalf("ls after two restarts:\n%s", ls)
	}
	if _, errOut, code := cli("stop", "demo"); code != toolbox.ExitOK {
		t.Fatalf("stop demo: %d %q", code, errOut)
	}
	if out, errOut, code := cli("rm", "demo"); code != toolbox.ExitOK || !strings.Contains(out, "Removed ") {
		t.Fatalf("rm: %d %q %q", code, out, errOut)
	}
	if ls, _, _ := cli("ls"); strings.Contains(ls, "demo") || !strings.Contains(ls, "0 task(s)") {
		t.Fatalf("ls after restart, stop, rm:\n%s", ls)
	}
	if _, errOut, code := cli("logs", "nosuchlabel"); code == toolbox.ExitOK || !strings.Contains(errOut, `no task has the id or label "nosuchlabel"`) {
		t.Fatalf("unknown label: %d %q", code, errOut)
	}
	if out, _, code := cli("--version"); code != toolbox.ExitOK || !strings.HasPrefix(out, "bgtask ") {
		t.Fatalf("--version: %d %q", code, out)
	}
	if out, errOut, code := cli("--version", "extra"); code != toolbox.ExitError || out != "" || !strings.Contains(errOut, `takes no arguments, got "extra"`) {
		t.Fatalf("--version extra: %d %q %q", code, out, errOut)
	}
}

func TestCLIStatusForPeopleAndScripts(t *testing.T) {
	t.Parallel()
	a := toolboxtest.NewApp(t)
	r := toolboxtest.StartTask(t, a, map[string]any{"command": "echo hi >&2; exit 2", "label": "redirect"})
	tasktest.WaitEnd(t, a.Store, r.TaskID)
	var out bytes.Buffer
	a.Stdout, a.Stderr = &out, io.Discard
	if code := Run(context.Background(), a, "bgtask", []string{"status", "redirect"}); code != toolbox.ExitOK {
		t.Fatalf("status: exit %d", code)
	}
	for _, want := range []string{"status:", "failed (exit 2)", "command:", "echo hi >&2; exit 2", "1 on stderr"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("status for people lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if code := Run(context.Background(), a, "bgtask", []string{"status", "--json", "redirect"}); code != toolbox.ExitOK || !strings.Contains(out.String(), `"command": "echo hi >&2; exit 2"`) {
		t.Fatalf("status --json: exit %d\n%s", code, out.String())
	}
	out.Reset()
	if code := Run(context.Background(), a, "bgtask", []string{"ls", "--json"}); code != toolbox.ExitOK || !strings.Contains(out.String(), `"tasks": [`) {
		t.Fatalf("ls --json: exit %d\n%s", code, out.String())
	}
}

func TestCompletion(t *testing.T) {
	t.Parallel()
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash is not installed")
	}
	a := toolboxtest.NewApp(t)
	r := toolboxtest.StartTask(t, a, map[string]any{"command": "true", "label": "webserver"})
	tasktest.WaitEnd(t, a.Store, r.TaskID)
	var out bytes.Buffer
	a.Stdout, a.Stderr = &out, io.Discard
	if code := Run(context.Background(), a, "bgtask", []string{"completion", "bash"}); code != toolbox.ExitOK {
		t.Fatalf("completion bash: exit %d", code)
	}
	script := out.String()
	out.Reset()
	if code := Run(context.Background(), a, "bgtask", []string{"__refs"}); code != toolbox.ExitOK || !strings.Contains(out.String(), "webserver\n") || !strings.Contains(out.String(), r.TaskID) {
		t.Fatalf("__refs: exit %d %q", code, out.String())
	}
	// bgtask __refs as the script calls it: a stand-in printing what the
	// real one printed.
	dir := t.TempDir()
	stub := "#!/bin/sh\nprintf '%s' '" + out.String() + "'\n"
	if err := os.WriteFile(filepath.Join(dir, "bgtask"), []byte(stub), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ words, want string }{
		{"bgtask st", "status stop"},
		{"bgtask logs web", "webserver"},
		// Flags, from the tools' parameters too, and their values.
		{"bgtask run --wait-p", "--wait-port"},
		{"bgtask run --inter", "--interactive"},
		{"bgtask logs webserver --st", "--stream"},
		{"bgtask logs --stream std", "stdout stderr"},
		{"bgtask stop --a", "--action --all"},
		{"bgtask send x --key ctrl-", "ctrl-c ctrl-d"},
	} {
		cmd := exec.Command(bash, "--norc", "-c", script+`COMP_WORDS=(`+tc.words+`); COMP_CWORD=$((${#COMP_WORDS[@]}-1)); _bgtask; echo "${COMPREPLY[*]}"`)
		cmd.Env = []string{"PATH=" + dir + ":/usr/bin:/bin"}
		got, err := cmd.Output()
		if err != nil || strings.TrimSpace(string(got)) != tc.want {
			t.Errorf("%q completes to %q (%v), want %q", tc.words, got, err, tc.want)
		}
	}
	if code := Run(context.Background(), a, "bgtask", []string{"completion", "tcsh"}); code == toolbox.ExitOK {
		t.Fatal("completion for an unknown shell succeeded")
	}
}

// `bgtask stop --action` does what the action says: kill stops the named
// task, cleanup removes finished ones (with --all, every finished one,
// as rm --all), and neither touches what the other would.
func TestCLIStopAction(t *testing.T) {
	t.Parallel()
	a := toolboxtest.NewApp(t)
	done := toolboxtest.StartTask(t, a, map[string]any{"command": "true", "label": "done"})
	tasktest.WaitEnd(t, a.Store, done.TaskID)
	web := toolboxtest.StartTask(t, a, map[string]any{"command": helpers.Shell("hang"), "label": "web"})
	if out, errOut, code := runCLI(t, a, "stop", "--action", "kill", "web"); code != toolbox.ExitOK || !strings.Contains(out, "Stopped web") {
		t.Fatalf("stop --action kill web: %d %q %q", code, out, errOut)
	}
	if task := tasktest.WaitEnd(t, a.Store, web.TaskID); task.Status == supervisor.StatusRunning {
		t.Fatalf("web still running after stop --action kill")
	}
	api := toolboxtest.StartTask(t, a, map[string]any{"command": helpers.Shell("hang"), "label": "api"})
	if out, errOut, code := runCLI(t, a, "stop", "--all", "--action", "cleanup"); code != toolbox.ExitOK {
		t.Fatalf("stop --all --action cleanup: %d %q %q", code, out, errOut)
	}
	for _, id := range []string{done.TaskID, web.TaskID} {
		if _, err := a.Store.Load(id); !errors.Is(err, supervisor.ErrNoTask) {
			t.Errorf("finished task %s not cleaned by stop --all --action cleanup: %v", id, err)
		}
	}
	if task, err := a.Store.Load(api.TaskID); err != nil || task.Status != supervisor.StatusRunning {
		t.Fatalf("stop --all --action cleanup touched the running task: %v %+v", err, task)
	}
}

// A restart keeps the task's id: its command runs again in the same
// folder, its output goes on in the same log after one marker line per
// restart giving how it ended, whether it was running or had ended.
func TestCLIRestartKeepsIDAndLogs(t *testing.T) {
	t.Parallel()
	a := toolboxtest.NewApp(t)
	old := toolboxtest.StartTask(t, a, map[string]any{"command": "echo hi; exit 3", "label": "demo"})
	tasktest.WaitEnd(t, a.Store, old.TaskID)
	for i := 1; i <= 2; i++ {
		out, errOut, code := runCLI(t, a, "restart", "demo")
		if code != toolbox.ExitOK || strings.TrimSpace(out) != old.TaskID || !strings.Contains(errOut, fmt.Sprintf("restart %d", i)) {
			t.Fatalf("restart %d: %d %q %q", i, code, out, errOut)
		}
		tasktest.WaitEnd(t, a.Store, old.TaskID)
	}
	task, err := a.Store.Load(old.TaskID)
	if err != nil || task.Restarts != 2 || task.LastExitCode == nil || *task.LastExitCode != 3 || *task.ExitCode != 3 {
		t.Fatalf("after two restarts: %+v, %v", task, err)
	}
	b, _ := os.ReadFile(filepath.Join(task.Dir, "stdout"))
	want := "hi\n[bgtask: restart 1: ended failed (exit 3), restarted on request]\nhi\n[bgtask: restart 2: ended failed (exit 3), restarted on request]\nhi\n"
	if got := strings.ReplaceAll(string(b), "\r", ""); got != want {
		t.Errorf("stdout log %q, want %q", got, want)
	}
}

// A label names, among the tasks on other hosts as last known, the
// running one, else the newest: as it does among local tasks.
func TestResolveRemoteLabel(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	rec := func(id string, minutes int, status string) remote.Record {
		return remote.Record{ID: id, Host: "box", Label: "web", Command: "npm run dev", StartedAt: base.Add(time.Duration(minutes) * time.Minute), Status: status}
	}
	for _, tc := range []struct {
		name string
		recs []remote.Record
		want string
	}{
		{"newest finished", []remote.Record{rec("task-1-a", 0, supervisor.StatusFailed), rec("task-3-c", 2, supervisor.StatusKilled), rec("task-2-b", 1, supervisor.StatusCompleted)}, "task-3-c"},
		{"running before newer finished", []remote.Record{rec("task-1-a", 0, supervisor.StatusFailed), rec("task-2-b", 1, supervisor.StatusRunning), rec("task-3-c", 2, supervisor.StatusKilled)}, "task-2-b"},
		{"one", []remote.Record{rec("task-1-a", 0, supervisor.StatusCompleted)}, "task-1-a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := toolboxtest.NewApp(t)
			for _, r := range tc.recs {
				if err := remote.RecordsIn(a.Store.Dir).Put(r); err != nil {
					t.Fatal(err)
				}
			}
			if got, err := resolveRef(context.Background(), a, "web"); err != nil || got != tc.want {
				t.Fatalf("web resolves to %q, %v; want %s", got, err, tc.want)
			}
		})
	}
}
