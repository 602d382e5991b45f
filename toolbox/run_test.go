package toolbox

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/amp-bg-tasks/amp-bg-tasks/capture"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/helperproc"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/tasktest"
	"github.com/amp-bg-tasks/amp-bg-tasks/procs"
	"github.com/amp-bg-tasks/amp-bg-tasks/supervisor"
)

func TestTaskStreamsAreSeparateTerminals(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	for _, tc := range []struct {
		name, command  string
		stdout, stderr string
		status         string
		exit           int
	}{
		{
			name:    "failure keeps colors and exit code",
			command: `test -t 1 && test -t 2 && echo both-terminals; printf '\033[31mred\033[0m\n'; echo to-stderr >&2; exit 7`,
			stdout:  "both-terminals\n\x1b[31mred\x1b[0m\n", stderr: "to-stderr\n",
			status: supervisor.StatusFailed, exit: 7,
		},
		{
			name:    "success, last output without newline, stdin is /dev/null",
			command: `read -r line || echo stdin-empty; printf 'no newline at end'`,
			stdout:  "stdin-empty\nno newline at end", status: supervisor.StatusCompleted,
		},
		{
			name:    "terminal is wide and TERM is set",
			command: `echo "$(stty size </dev/tty) $TERM"`,
			stdout:  "50 200 " + cmp.Or(os.Getenv("TERM"), "xterm-256color") + "\n", status: supervisor.StatusCompleted,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := startTask(t, a, map[string]any{"command": tc.command, "label": "streams"})
			// A command this short may have ended by the time bg_run
			// answers: then the answer says how it ended.
			if r.Status != "running" && r.Status != tc.status || r.PID <= 0 || !strings.HasPrefix(r.TaskID, "task-") {
				t.Fatalf("bg_run answered %+v", r)
			}
			task := tasktest.WaitEnd(t, a.Store, r.TaskID)
			if got := tasktest.ReadFile(t, filepath.Join(task.Dir, "stdout")); got != tc.stdout {
				t.Errorf("stdout %q, want %q", got, tc.stdout)
			}
			if got := tasktest.ReadFile(t, filepath.Join(task.Dir, "stderr")); got != tc.stderr {
				t.Errorf("stderr %q, want %q", got, tc.stderr)
			}
			if task.Status != tc.status || task.ExitCode == nil || *task.ExitCode != tc.exit {
				t.Errorf("status %s exit %v, want %s %d", task.Status, task.ExitCode, tc.status, tc.exit)
			}
			if got := tasktest.ReadFile(t, filepath.Join(task.Dir, "exit_code")); got != strings.TrimSpace(got)+"\n" {
				t.Errorf("exit_code file %q is not one line", got)
			}
		})
	}
}

func TestTaskFolderLayoutAndPermissions(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	r := startTask(t, a, map[string]any{"command": "echo hi", "timeout": 0.5})
	task := tasktest.WaitEnd(t, a.Store, r.TaskID)
	fi, err := os.Stat(task.Dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("task folder mode %v (%v), want 0700", fi.Mode().Perm(), err)
	}
	for _, name := range []string{"command", "pid", "label", "status", "stdout", "stderr", "exit_code",
		"started_at", "finished_at", "cwd", "timeout", "watchdog_pid", "pid_start_ms", "watchdog_start_ms"} {
		fi, err := os.Stat(filepath.Join(task.Dir, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", name, fi.Mode().Perm())
		}
	}
	want := map[string]string{"command": "echo hi", "label": r.TaskID, "status": "completed", "timeout": "0.5", "cwd": a.Wd}
	for name, v := range want {
		if got := strings.TrimSpace(tasktest.ReadFile(t, filepath.Join(task.Dir, name))); got != v {
			t.Errorf("%s = %q, want %q", name, got, v)
		}
	}
	ents, _ := os.ReadDir(a.Store.Dir)
	if len(ents) != 1 {
		t.Errorf("state folder holds %d entries, want only the task: %v", len(ents), ents)
	}
}

func TestTimeoutAndStopEndTheWholeTree(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"timeout", "bg_stop"} {
		t.Run(how, func(t *testing.T) {
			a := newTestApp(t)
			timeout := 0.0
			if how == "timeout" {
				timeout = 0.05 // 3 s
			}
			r := startTask(t, a, map[string]any{"command": helpers.Shell("tree"), "label": how, "timeout": timeout})
			tasktest.WaitFor(t, "the setsid grandchild", func() bool {
				b, _ := os.ReadFile(filepath.Join(a.Store.Dir, r.TaskID, "stdout"))
				return bytes.Contains(b, []byte("leaf "))
			})
			if n := len(tasktest.MarkerProcs(t, r.TaskID)); n < 3 {
				t.Fatalf("%d processes carry the marker, want the 3-level tree", n)
			}
			task, _ := a.Store.Load(r.TaskID)
			want := supervisor.StatusTimeout
			if how == "bg_stop" {
				want = supervisor.StatusKilled
				res := call[StopResult](t, a, StopTool(), `{"task_id":"`+r.TaskID+`"}`)
				if res.Status != want {
					t.Fatalf("bg_stop answered %+v", res)
				}
				if procs.Alive(context.Background(), task.Watchdog) {
					t.Error("bg_stop returned while the supervisor still runs")
				}
			}
			task = tasktest.WaitEnd(t, a.Store, r.TaskID)
			if task.Status != want || task.ExitCode == nil {
				t.Fatalf("status %s, exit code %v; want %s with the real exit code", task.Status, task.ExitCode, want)
			}
			if left := tasktest.MarkerProcs(t, r.TaskID); len(left) != 0 {
				t.Fatalf("processes of the task still alive: %v", left)
			}
			again := call[StopResult](t, a, StopTool(), `{"task_id":"`+r.TaskID+`"}`)
			if again.Status != want || !strings.Contains(again.Message, "not running") {
				t.Errorf("second bg_stop answered %+v", again)
			}
		})
	}
}

// The supervisor must outlive the bg_run process (the agent's tool call)
// and shrug off the SIGHUP a closing terminal sends.
func TestSupervisorOutlivesItsParentAndIgnoresSIGHUP(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(append([]string{}, a.Environ...), "BGTEST_MAIN_AS=bg-run", "TOOLBOX_ACTION=execute", "TASKS_DIR="+a.Store.Dir)
	cmd.Stdin = strings.NewReader(`{"command":` + jsonString(helpers.Shell("hang")) + `,"timeout":0}`)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("bg-run: %v: %s", err, out)
	}
	var r RunResult
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("bg-run printed %q: %v", out, err)
	}
	task, err := a.Store.Load(r.TaskID)
	if err != nil {
		t.Fatal(err)
	}
	// bg-run has exited (Output waited for it): its supervisor lives on.
	if !procs.Alive(context.Background(), task.Watchdog) {
		t.Fatal("supervisor died with its parent")
	}
	if err := procs.Signal(task.Watchdog, syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	// If SIGHUP had killed it, bg_stop would find no supervisor and record
	// the kill itself; only the supervisor logs the SIGTERM it handles.
	res := call[StopResult](t, a, StopTool(), `{"task_id":"`+r.TaskID+`"}`)
	if res.Status != supervisor.StatusKilled {
		t.Fatalf("bg_stop answered %+v", res)
	}
	if log := tasktest.ReadFile(t, filepath.Join(task.Dir, supervisor.FileSupervisorLog)); !strings.Contains(log, "terminated: killing the tree") {
		t.Fatalf("supervisor did not handle the stop itself; its log: %q", log)
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func TestConcurrentRunsGetDistinctTasks(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	n := 50 // as many as a monorepo's agents start at once
	if testing.Short() {
		n = 20
	}
	ids := make(chan string, n)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := a.Call(context.Background(), RunTool(), []byte(`{"command":"echo $BG_TASK_ID"}`))
			if err != nil {
				t.Error(err)
				return
			}
			ids <- res.(RunResult).TaskID
		}()
	}
	wg.Wait()
	close(ids)
	seen := map[string]bool{}
	for id := range ids {
		if seen[id] {
			t.Errorf("task id %s given twice", id)
		}
		seen[id] = true
		task := tasktest.WaitEnd(t, a.Store, id)
		if got := strings.TrimSpace(tasktest.ReadFile(t, filepath.Join(task.Dir, "stdout"))); got != id {
			t.Errorf("task %s saw BG_TASK_ID=%q", id, got)
		}
	}
	l := call[StatusList](t, a, StatusTool(), `{}`)
	if len(seen) != n || l.Summary.Total != n {
		t.Fatalf("%d distinct ids, bg_status lists %d; want %d", len(seen), l.Summary.Total, n)
	}
}

// With 1 MB segments, 25 MB written through the PTY must be on disk byte
// for byte, except the oldest segments rotation deleted, which the index
// accounts for.
func TestOutputRotatesWithoutLosingBytes(t *testing.T) {
	t.Parallel()
	a := newTestApp(t, "BG_LOG_MAX_MB=1", "BG_LOG_BACKUPS=5")
	const size = 25<<20 + 777
	r := startTask(t, a, map[string]any{"command": helpers.Shell("flood", "26215177", "42")})
	task := tasktest.WaitEnd(t, a.Store, r.TaskID)
	if task.Status != supervisor.StatusCompleted {
		t.Fatalf("flood ended %s", task.Status)
	}
	want := helperproc.FloodBytes(size, 42)
	s, err := capture.OpenStream(task.Dir, "stdout")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	var got bytes.Buffer
	next, skipped, err := s.CopyFrom(&got, 0)
	if err != nil {
		t.Fatal(err)
	}
	if next != size || skipped+int64(got.Len()) != size {
		t.Fatalf("stream ends at %d with %d bytes rotated away and %d on disk; wrote %d", next, skipped, got.Len(), size)
	}
	if !bytes.Equal(got.Bytes(), want[skipped:]) {
		t.Fatal("bytes on disk differ from the bytes written")
	}
	if skipped < 15<<20 {
		t.Errorf("only %d bytes rotated away: with 5 backups of 1 MB most of 25 MB must go", skipped)
	}
	if st := s.Stats(); st.Lines != int64(bytes.Count(want, []byte{'\n'})) {
		t.Errorf("stream counts %d lines, wrote %d", st.Lines, bytes.Count(want, []byte{'\n'}))
	}
}

// A record whose PID now belongs to another process (same PID, other start
// time) must never lead to a signal, from bg_stop or bg_status.
func TestStaleRecordedPIDIsNeverSignalled(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	report := filepath.Join(t.TempDir(), "report")
	stranger := exec.Command(os.Args[0], report)
	stranger.Env = append(os.Environ(), helpers.EnvFor("signal-report"))
	out, _ := stranger.StdoutPipe()
	if err := stranger.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stranger.Process.Kill(); _ = stranger.Wait() })
	if _, err := out.Read(make([]byte, 6)); err != nil { // "ready\n"
		t.Fatal(err)
	}
	real, err := procs.Lookup(context.Background(), stranger.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	// A task as a crashed supervisor would leave it, whose pids have since
	// been reused by the stranger.
	id := "task-1700000000-stale1"
	dir := filepath.Join(a.Store.Dir, id)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	pid, stale := strconv.Itoa(real.PID), strconv.FormatInt(real.Start-60_000, 10)
	for name, v := range map[string]string{
		"command": "sleep 1000", "status": "running", "started_at": "2023-11-14T22:13:20Z", "cwd": "/",
		"pid": pid, "pid_start_ms": stale, "watchdog_pid": pid, "watchdog_start_ms": stale,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(v+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if l := call[StatusList](t, a, StatusTool(), `{}`); l.Tasks[0].Status != supervisor.StatusKilled {
		t.Errorf("bg_status lists %+v, want the dead task recorded as killed", l.Tasks[0])
	}
	_ = os.WriteFile(filepath.Join(dir, "status"), []byte("running\n"), 0o600) // Again, for bg_stop.
	if res := call[StopResult](t, a, StopTool(), `{"task_id":"`+id+`"}`); res.Status != supervisor.StatusKilled {
		t.Errorf("bg_stop answered %+v, want the dead task recorded as killed", res)
	}
	// Standard signals are delivered lowest number first: once the stranger
	// reports SIGWINCH (28), a SIGTERM (15) sent before it would be reported.
	if err := stranger.Process.Signal(syscall.SIGWINCH); err != nil {
		t.Fatal(err)
	}
	var got string
	tasktest.WaitFor(t, "the stranger to report SIGWINCH", func() bool {
		b, _ := os.ReadFile(report)
		got = string(b)
		return strings.Contains(got, "window changed")
	})
	if strings.Contains(got, "terminated") || !procs.Alive(context.Background(), real) {
		t.Fatalf("the stranger was signalled: %q", got)
	}
}

// A task does not inherit the variables by which the agent spoke to us:
// a task that runs one of our tools (or `bgtask logs`) must not act on
// the agent's TOOLBOX_ACTION nor read as the agent's reader.
func TestTaskDoesNotInheritProtocolVariables(t *testing.T) {
	t.Parallel()
	a := newTestApp(t, "TOOLBOX_ACTION=execute", "AMP_THREAD_ID=T-agent", "AGENT_THREAD_ID=T-agent", "AMP_CURRENT_THREAD_ID=T-agent", "BG_KEEP_ME=1")
	r := startTask(t, a, map[string]any{"command": "env"})
	task := tasktest.WaitEnd(t, a.Store, r.TaskID)
	env := tasktest.ReadFile(t, filepath.Join(task.Dir, "stdout"))
	for _, v := range []string{"TOOLBOX_ACTION=", "AMP_THREAD_ID=", "AGENT_THREAD_ID=", "AMP_CURRENT_THREAD_ID="} {
		if strings.Contains(env, "\n"+v) || strings.HasPrefix(env, v) {
			t.Errorf("the task inherited %s...:\n%s", v, env)
		}
	}
	if !strings.Contains(env, "BG_KEEP_ME=1") || !strings.Contains(env, "BG_TASK_ID="+r.TaskID) {
		t.Errorf("the task lost the rest of its environment:\n%s", env)
	}
}

// TestFinishedFailingRunNamesEveryFailure: a real node --test run that
// ends in bg_run's wait answers with every failed test's name and its
// line in the user's test file, and without node:internal frames.
func TestFinishedFailingRunNamesEveryFailure(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node not installed (Debian package nodejs)")
	}
	dir := t.TempDir()
	for name, body := range map[string]string{
		"lib.js": "function sum(a, b) { return a + b + 1 }\nfunction load(s) { return JSON.parse(s) }\nmodule.exports = { sum, load }\n",
		"test/lib.test.js": "const test = require('node:test')\nconst assert = require('node:assert')\nconst { sum, load } = require('../lib.js')\n" +
			"test('sum adds', () => { assert.strictEqual(sum(1, 2), 3) })\ntest('load parses', () => {\n  assert.deepStrictEqual(load('{\"a\":1}'), { a: 2 })\n})\ntest('passes', () => { assert.ok(true) })\n",
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	a := newTestApp(t)
	r := call[RunResult](t, a, RunTool(), fmt.Sprintf(`{"command":"node --test","cwd":%q,"wait_seconds":120}`, dir))
	if r.Status != "failed" || r.Stdout == nil {
		t.Fatalf("not a finished failing run: %+v", r)
	}
	for _, want := range []string{"sum adds", "load parses", "test/lib.test.js:4:33", "test/lib.test.js:6:10"} {
		if !strings.Contains(*r.Stdout, want) {
			t.Errorf("the answer lacks %q:\n%s", want, *r.Stdout)
		}
	}
	if strings.Contains(*r.Stdout, "at Test.run (node:internal") {
		t.Errorf("node:internal frames shown:\n%s", *r.Stdout)
	}
}
