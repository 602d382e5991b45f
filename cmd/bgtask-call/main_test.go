//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/callsock"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/gocmd"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/tasktest"
)

// These tests run the real programs: bgtask-call and bgtask-tool, built
// once, then copied into each test's folder, because a server's address
// names its executable's file: each test gets servers of its own.

var built struct {
	once sync.Once
	dir  string
	err  error
}

func TestMain(m *testing.M) {
	if marker := os.Getenv(fakeToolEnv); marker != "" {
		os.Exit(fakeTool(marker))
	}
	code := m.Run()
	if built.dir != "" {
		_ = os.RemoveAll(built.dir) // Best effort: a temporary folder.
	}
	os.Exit(code)
}

// binaries builds bgtask-call and bgtask-tool once and returns their
// folder.
func binaries(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		built.dir, built.err = os.MkdirTemp("", "bgtask-call-test")
		if built.err != nil {
			return
		}
		out, err := gocmd.Command(t, "build", "-o", built.dir+"/", ".", "../bgtask-tool").CombinedOutput()
		if err != nil {
			built.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.dir
}

// rig is a test's own install: the entries link to bgtask-call, with
// bgtask-tool beside it, and a state folder.
type rig struct {
	t     *testing.T
	bin   string
	state string
	env   []string
}

func newRig(t *testing.T) *rig {
	t.Helper()
	src := binaries(t)
	r := &rig{t: t, bin: t.TempDir(), state: t.TempDir()}
	for _, name := range []string{"bgtask-call", "bgtask-tool"} {
		copyFile(t, filepath.Join(src, name), filepath.Join(r.bin, name))
	}
	for _, e := range append(callsock.ToolEntries(), callsock.Reaper) {
		if err := os.Symlink("bgtask-call", filepath.Join(r.bin, e)); err != nil {
			t.Fatal(err)
		}
	}
	r.env = append(os.Environ(), "TASKS_DIR="+r.state, "BG_NOTIFY=never", "HOME="+t.TempDir())
	// Whatever server a test started, or a call started for it, ends
	// with the test, found by its address and ended by its pid.
	t.Cleanup(func() { r.endServer() })
	return r
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o755); err != nil {
		t.Fatal(err)
	}
}

// run runs the program named name in the rig with stdin and extra
// environment entries, and returns its stdout, stderr and exit code. It
// fails the test if the call has not ended, output included, within a
// minute: a server that kept the caller's stdout open would hold it.
func (r *rig) run(name, stdin string, env ...string) (stdout, stderr string, code int) {
	r.t.Helper()
	return r.runIn("", name, stdin, env...)
}

func (r *rig) runIn(dir, name, stdin string, env ...string) (stdout, stderr string, code int) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := exec.CommandContext(ctx, filepath.Join(r.bin, name))
	c.Dir = dir
	c.Env = append(append(r.env[:len(r.env):len(r.env)], "TOOLBOX_ACTION=execute"), env...)
	c.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	err := c.Run()
	if ctx.Err() != nil {
		r.t.Fatalf("%s did not end within a minute (stdout %q)", name, out.String())
	}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		r.t.Fatalf("run %s: %v", name, err)
	}
	return out.String(), errb.String(), c.ProcessState.ExitCode()
}

// answer runs a tool through the rig and decodes its JSON answer.
func (r *rig) answer(name, input string, env ...string) map[string]any {
	r.t.Helper()
	out, errOut, code := r.run(name, input, env...)
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		r.t.Fatalf("%s %s: exit %d, answer %q (stderr %q): %v", name, input, code, out, errOut, err)
	}
	return m
}

func (r *rig) addr() string {
	r.t.Helper()
	a, err := callsock.Address(filepath.Join(r.bin, "bgtask-tool"))
	if err != nil {
		r.t.Fatal(err)
	}
	return a
}

// serverPID is the pid of the server that listens for the rig's build,
// false if none does.
func (r *rig) serverPID() (int, bool) {
	pid, err := callsock.Probe(r.addr())
	return pid, err == nil
}

// endServer ends every server of the rig's build, by pid: a caller in
// another context (another umask, nice level, cgroup) has a server of
// its own, at another address.
func (r *rig) endServer() {
	addrs, _ := callsock.Listening()
	for _, addr := range addrs {
		pid, err := callsock.Probe(addr)
		if err != nil {
			continue
		}
		if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); strings.TrimSuffix(exe, " (deleted)") == filepath.Join(r.bin, "bgtask-tool") {
			_ = syscall.Kill(pid, syscall.SIGKILL) // Best effort: ours, by pid.
			// Gone before the state folder is removed: its housekeeping
			// after a call writes there (the ended index, a staging
			// folder made ahead).
			tasktest.WaitFor(r.t, "the killed server to end", func() bool { return !running(pid) })
		}
	}
}

// running reports whether pid runs: neither gone nor a zombie.
func running(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}

// startServer starts the rig's server with idle and waits until it
// listens.
func (r *rig) startServer(idle string) *exec.Cmd {
	r.t.Helper()
	c := exec.Command(filepath.Join(r.bin, "bgtask-tool"), callsock.ServeArg, "-idle", idle)
	c.Env = r.env
	var logb bytes.Buffer
	c.Stderr = &logb
	if err := c.Start(); err != nil {
		r.t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = c.Wait(); close(exited) }()
	r.t.Cleanup(func() {
		_ = c.Process.Kill() // Best effort: ours, by pid.
		<-exited
	})
	tasktest.WaitFor(r.t, "the server to listen", func() bool {
		pid, ok := r.serverPID()
		return ok && pid == c.Process.Pid
	})
	return c
}

// parentOf is the parent pid of pid, from /proc.
func parentOf(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		t.Fatal(err)
	}
	return ppid
}

// sparesOf lists the spare supervisors that are children of pid.
func sparesOf(pid int) []int {
	var spares []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", child))
		if err != nil {
			continue
		}
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) < 2 || f[1] != strconv.Itoa(pid) || f[0] == "Z" {
			continue
		}
		cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", child))
		if strings.HasSuffix(string(cmd), "\x00__supervise\x00__spare\x00") {
			spares = append(spares, child)
		}
	}
	return spares
}

// holdsSocket reports whether process pid has a socket open.
func holdsSocket(pid int) bool {
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	for _, fd := range fds {
		if target, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name())); strings.HasPrefix(target, "socket:") {
			return true
		}
	}
	return false
}

// endTaskAtCleanup stops task id when the test ends, and kills its
// supervisor's and command's process groups by pid in case that failed.
func (r *rig) endTaskAtCleanup(id string) {
	r.t.Cleanup(func() {
		r.run("bg-stop", `{"task_id":"`+id+`"}`)
		for _, f := range []string{"pid", "watchdog_pid"} {
			if b, err := os.ReadFile(filepath.Join(r.state, id, f)); err == nil {
				if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 1 {
					_ = syscall.Kill(-pid, syscall.SIGKILL) // Best effort: its group, ours.
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
	})
}

func (r *rig) readTaskFile(id, name string) string {
	r.t.Helper()
	b, err := os.ReadFile(filepath.Join(r.state, id, name))
	if err != nil {
		r.t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// A call through the server answers as the process would have, runs in
// the server (bg_run's supervisor is its child), in the caller's folder
// and environment, and ends for its caller when the server is done.
func TestCallsRunInTheServerAsTheProcessWould(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	srv := r.startServer("1m")

	var spare int
	tasktest.WaitFor(t, "the server's spare supervisor", func() bool {
		s := sparesOf(srv.Process.Pid)
		if len(s) == 1 {
			spare = s[0]
		}
		return spare != 0
	})

	work := t.TempDir()
	if err := os.Mkdir(filepath.Join(work, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	out, _, code := r.runIn(work, "bg-run", `{"command":"echo \"$CALLER_SAYS in $(pwd)\"; sleep 60","cwd":"sub","timeout":2}`, "CALLER_SAYS=hello")
	if code != 0 {
		t.Fatalf("bg_run exit %d: %s", code, out)
	}
	var started struct {
		TaskID string `json:"task_id"`
		Cwd    string `json:"cwd"`
	}
	if err := json.Unmarshal([]byte(out), &started); err != nil {
		t.Fatalf("bg_run answer %q: %v", out, err)
	}
	r.endTaskAtCleanup(started.TaskID)
	if want := filepath.Join(work, "sub"); started.Cwd != want {
		t.Errorf("the task runs in %q, want the caller's %q: a relative cwd resolves from the caller's folder", started.Cwd, want)
	}
	watchdog, err := strconv.Atoi(r.readTaskFile(started.TaskID, "watchdog_pid"))
	if err != nil {
		t.Fatal(err)
	}
	if got := parentOf(t, watchdog); got != srv.Process.Pid {
		t.Errorf("the task's supervisor is a child of %d, want the server %d: the call did not run there", got, srv.Process.Pid)
	}
	if watchdog != spare {
		t.Errorf("the task's supervisor is %d, not the spare %d that waited for it", watchdog, spare)
	}
	tasktest.WaitFor(t, "a new spare for the next task", func() bool {
		s := sparesOf(srv.Process.Pid)
		return len(s) == 2 && slices.Contains(s, spare) // The one that took the task keeps its command line.
	})

	var text string
	tasktest.WaitFor(t, "the task's line", func() bool {
		m := r.answer("bg-output", `{"task_id":"`+started.TaskID+`","since":false}`)
		text, _ = m["stdout"].(string)
		return strings.Contains(text, "hello in")
	})
	if want := "hello in " + filepath.Join(work, "sub"); !strings.Contains(text, want) {
		t.Errorf("output %q, want %q: the command has the caller's environment and folder", text, want)
	}

	if m := r.answer("bg-stop", `{"task_id":"`+started.TaskID+`"}`); m["error"] != nil || m["status"] != "killed" {
		t.Fatalf("bg_stop: %v", m)
	}
	// The entries' descriptions, byte for byte as bgtask-tool's own.
	for _, e := range callsock.ToolEntries() {
		via, _, _ := r.run(e, "", "TOOLBOX_ACTION=describe")
		direct := exec.Command(filepath.Join(r.bin, "bgtask-tool"))
		direct.Args[0] = e
		direct.Env = append(r.env[:len(r.env):len(r.env)], "TOOLBOX_ACTION=describe")
		want, err := direct.Output()
		if err != nil || via != string(want) {
			t.Errorf("%s describe through the server = %q, want bgtask-tool's %q (%v)", e, via, want, err)
		}
	}
	// Errors keep their exit code.
	if out, _, code := r.run("bg-status", `{"task_id":"nope"}`); code != 1 || !strings.Contains(out, `"error"`) {
		t.Errorf("a bad task_id: exit %d, %q; want exit 1 and an error", code, out)
	}
}

// With no server, a call runs as a process (the same answer) and starts
// a server for the next call, which then answers it.
func TestWithoutAServerACallRunsItselfAndStartsOne(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	if _, ok := r.serverPID(); ok {
		t.Fatal("a server listens before any call")
	}
	// The first call, made as an agent might: its stdout a pipe, and a
	// pipe of the agent's inherited as fd 3. The server it starts must
	// hold neither (a reader of either would wait for it for ever).
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	extraR, extraW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _, _, _ = outR.Close(), extraR.Close(), extraW.Close() }()
	c := exec.Command(filepath.Join(r.bin, "bg-status"))
	c.Env = append(r.env[:len(r.env):len(r.env)], "TOOLBOX_ACTION=execute")
	c.Stdin = strings.NewReader(`{}`)
	c.Stdout = outW
	c.ExtraFiles = []*os.File{extraW}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	_ = outW.Close() // The child's copy is the writer now.
	var answer map[string]any
	if err := json.NewDecoder(outR).Decode(&answer); err != nil || answer["tasks"] == nil {
		t.Fatalf("first bg_status answered %v (%v)", answer, err)
	}
	if err := c.Wait(); err != nil {
		t.Fatal(err)
	}
	var pid int
	tasktest.WaitFor(t, "a server started by the first call", func() bool {
		var ok bool
		pid, ok = r.serverPID()
		return ok
	})
	if _, _, code := r.run("bg-reaper", ""); code != 0 {
		t.Errorf("bg-reaper through the server: exit %d", code)
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
		t.Errorf("the server %d is gone after a call: %v", pid, err)
	}
	for _, p := range []*os.File{outR, extraR} {
		fi, err := p.Stat()
		if err != nil {
			t.Fatal(err)
		}
		pipe := fmt.Sprintf("pipe:[%d]", fi.Sys().(*syscall.Stat_t).Ino)
		fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		if err != nil {
			t.Fatal(err)
		}
		for _, fd := range fds {
			if target, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name())); target == pipe {
				t.Errorf("the server holds fd %s, %s: the first caller's pipe", fd.Name(), target)
			}
		}
	}
}

// A caller that goes away (an agent's timeout kills it) cancels its
// call: a server idle for 2 s after it ends, long before the call's
// own wait of 60 s.
func TestAGoneCallerCancelsItsCall(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	srv := r.startServer("2s")
	ended := make(chan struct{})
	go func() {
		for {
			if _, err := os.Stat(fmt.Sprintf("/proc/%d/stat", srv.Process.Pid)); err != nil {
				break
			}
			b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", srv.Process.Pid))
			if f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:])); len(f) > 0 && f[0] == "Z" {
				break // Exited; its parent (the rig) reaps it at cleanup.
			}
			time.Sleep(20 * time.Millisecond)
		}
		close(ended)
	}()
	out, _, _ := r.run("bg-run", `{"command":"sleep 120","timeout":3}`)
	var started struct {
		TaskID string `json:"task_id"`
	}
	if err := json.Unmarshal([]byte(out), &started); err != nil || started.TaskID == "" {
		t.Fatalf("bg_run answered %q: %v", out, err)
	}
	r.endTaskAtCleanup(started.TaskID)
	watchdog, err := strconv.Atoi(r.readTaskFile(started.TaskID, "watchdog_pid"))
	if err != nil {
		t.Fatal(err)
	}

	c := exec.Command(filepath.Join(r.bin, "bg-status"))
	c.Env = append(r.env[:len(r.env):len(r.env)], "TOOLBOX_ACTION=execute")
	c.Stdin = strings.NewReader(`{"task_id":"` + started.TaskID + `","wait_seconds":60}`)
	// A file, not a pipe: Wait must not wait for the server to close
	// its copy of the caller's stdout, which is what is being tested.
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	c.Stdout = null
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	// The call is under way once the client waits on its connection
	// (the server is up for 2 s after bg_run: if it ended before
	// this call came, the call runs as a process and this test shows
	// nothing, so that is checked).
	tasktest.WaitFor(t, "bg_status to wait in the server", func() bool {
		return holdsSocket(c.Process.Pid)
	})
	select {
	case <-ended:
		t.Fatal("the server ended before the call came: the machine is too slow for this test's 2 s")
	default:
	}
	_ = c.Process.Kill() // By pid: ours.
	_ = c.Wait()
	select {
	case <-ended:
	case <-time.After(30 * time.Second):
		t.Fatal("the server still runs 30 s after its only caller went away: the call was not cancelled")
	}
	// Its spare supervisor ends with it (reparented, so found by its
	// command line and the rig's binary).
	tasktest.WaitFor(t, "the ended server's spare to exit", func() bool {
		return !spareOfRig(r, watchdog)
	})
}

// spareOfRig reports whether a spare supervisor of the rig's build runs,
// other than the one that took the task whose supervisor is watchdog.
func spareOfRig(r *rig, watchdog int) bool {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == watchdog {
			continue
		}
		cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if strings.HasPrefix(string(cmd), filepath.Join(r.bin, "bgtask-tool")+"\x00__supervise\x00__spare") {
			return true
		}
	}
	return false
}

// A new build of bgtask-tool (an upgrade) is never answered by the
// server of the old one: the call runs itself and a new server starts.
func TestAnUpgradeIsNotAnsweredByTheOldServer(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	old := r.startServer("1m")
	tool := filepath.Join(r.bin, "bgtask-tool")
	// Install a "new" build the way installers do: a new file renamed
	// over the old one.
	copyFile(t, tool, tool+".new")
	if err := os.Rename(tool+".new", tool); err != nil {
		t.Fatal(err)
	}
	if m := r.answer("bg-status", `{}`); m["tasks"] == nil {
		t.Fatalf("bg_status after the upgrade answered %v", m)
	}
	var pid int
	tasktest.WaitFor(t, "a server of the new build", func() bool {
		var ok bool
		pid, ok = r.serverPID()
		return ok
	})
	if pid == old.Process.Pid {
		t.Fatalf("the old build's server %d answers for the new build", pid)
	}
}

// BG_CALL_SERVER=off runs the call as a process and starts no server;
// a value that is neither on nor off is an error, not the default.
func TestCallServerSetting(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	if m := r.answer("bg-status", `{}`, "BG_CALL_SERVER=off"); m["tasks"] == nil {
		t.Fatalf("bg_status with BG_CALL_SERVER=off answered %v", m)
	}
	if m := r.answer("bg-status", `{}`, "BG_CALL_SERVER=off"); m["tasks"] == nil {
		t.Fatalf("a second bg_status with BG_CALL_SERVER=off answered %v", m)
	}
	if pid, ok := r.serverPID(); ok {
		t.Errorf("with BG_CALL_SERVER=off a server was started (pid %d)", pid)
	}
	out, _, code := r.run("bg-status", `{}`, "BG_CALL_SERVER=yes please")
	if code != 1 || !strings.Contains(out, `"error":"BG_CALL_SERVER=yes please: want on or off"`) {
		t.Errorf("BG_CALL_SERVER=yes please: exit %d, %q", code, out)
	}
}

// A caller that goes away during a since-read gets nothing, so nothing
// is taken from it: the next read of the same reader returns the lines
// the cancelled call had read.
func TestAGoneCallerTakesNoLines(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.startServer("1m")
	out, _, _ := r.run("bg-run", `{"command":"echo one; echo two; sleep 120","timeout":3}`, "AMP_THREAD_ID=reader")
	var started struct {
		TaskID string `json:"task_id"`
	}
	if err := json.Unmarshal([]byte(out), &started); err != nil || started.TaskID == "" {
		t.Fatalf("bg_run answered %q: %v", out, err)
	}
	r.endTaskAtCleanup(started.TaskID)
	tasktest.WaitFor(t, "the task's two lines", func() bool {
		b, _ := os.ReadFile(filepath.Join(r.state, started.TaskID, "stdout"))
		return strings.Count(string(b), "\n") >= 2
	})
	// A read that waits for a line that never comes: it has read "one"
	// and "two" (not matching) when its caller is killed.
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	c := exec.Command(filepath.Join(r.bin, "bg-output"))
	c.Env = append(r.env[:len(r.env):len(r.env)], "TOOLBOX_ACTION=execute", "AMP_THREAD_ID=reader")
	c.Stdin = strings.NewReader(`{"task_id":"` + started.TaskID + `","filter":"never","wait_seconds":60}`)
	c.Stdout = null
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	tasktest.WaitFor(t, "the read to wait in the server", func() bool { return holdsSocket(c.Process.Pid) })
	time.Sleep(300 * time.Millisecond) // Untimed: let it read the two lines before it waits.
	_ = c.Process.Kill()               // By pid: ours.
	_ = c.Wait()
	var text string
	tasktest.WaitFor(t, "the next read to get the lines back", func() bool {
		m := r.answer("bg-output", `{"task_id":"`+started.TaskID+`"}`, "AMP_THREAD_ID=reader")
		text, _ = m["stdout"].(string)
		return strings.Contains(text, "one") && strings.Contains(text, "two")
	})
}

// A caller whose process context differs from the server's (a sandbox's
// namespaces, another umask, another nice level, ...) is not served: its
// call runs as a process of its own, in its own context, as it would
// without the server.
func TestACallerInAnotherContextRunsItsOwnCall(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.startServer("1m")
	for _, tc := range []struct{ name, wrap, command, want string }{
		{"umask", `umask 077; exec "$0"`, `touch f && stat -c %a f`, "600"},
		{"nice", `exec nice -n 7 "$0"`, `nice`, "7"},
	} {
		dir := t.TempDir()
		c := exec.Command("sh", "-c", tc.wrap, filepath.Join(r.bin, "bg-run"))
		c.Env = append(r.env[:len(r.env):len(r.env)], "TOOLBOX_ACTION=execute")
		c.Stdin = strings.NewReader(`{"command":"` + tc.command + `","cwd":"` + dir + `","wait_seconds":30}`)
		out, err := c.Output()
		if err != nil {
			t.Fatalf("%s: %v (%s)", tc.name, err, out)
		}
		var m map[string]any
		if err := json.Unmarshal(out, &m); err != nil {
			t.Fatalf("%s: answer %q: %v", tc.name, out, err)
		}
		if got, _ := m["stdout"].(string); strings.TrimSpace(got) != tc.want {
			t.Errorf("%s: the command printed %q, want %q: it ran in the server's context, not its caller's", tc.name, got, tc.want)
		}
	}
}

// A caller killed during its call gets nothing written to its stdout
// afterwards, as a killed process writes nothing.
func TestAGoneCallerGetsNoAnswer(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.startServer("1m")
	out, _, _ := r.run("bg-run", `{"command":"sleep 2; echo late","timeout":3}`)
	var started struct {
		TaskID string `json:"task_id"`
	}
	if err := json.Unmarshal([]byte(out), &started); err != nil || started.TaskID == "" {
		t.Fatalf("bg_run answered %q: %v", out, err)
	}
	r.endTaskAtCleanup(started.TaskID)
	answer := filepath.Join(t.TempDir(), "answer")
	f, err := os.Create(answer)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c := exec.Command(filepath.Join(r.bin, "bg-status"))
	c.Env = append(r.env[:len(r.env):len(r.env)], "TOOLBOX_ACTION=execute")
	c.Stdin = strings.NewReader(`{"task_id":"` + started.TaskID + `","wait_seconds":30}`)
	c.Stdout = f
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	tasktest.WaitFor(t, "the call to wait in the server", func() bool { return holdsSocket(c.Process.Pid) })
	_ = c.Process.Kill() // By pid: ours.
	_ = c.Wait()
	// The task ends within 2 s, which ends the wait: an answer would be
	// written then.
	waitTaskEnded(t, r, started.TaskID)
	time.Sleep(500 * time.Millisecond) // Untimed: the server's answer, if it wrote one, is written by now.
	if b, _ := os.ReadFile(answer); len(b) > 0 {
		t.Errorf("the killed caller's stdout got %q", b)
	}
}

// waitTaskEnded waits until task id has ended.
func waitTaskEnded(t *testing.T, r *rig, id string) {
	t.Helper()
	tasktest.WaitFor(t, id+" to end", func() bool {
		b, err := os.ReadFile(filepath.Join(r.state, id, "status"))
		return err == nil && strings.TrimSpace(string(b)) != "running"
	})
}
