package toolbox

import (
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
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/remotetest"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/taskid"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/tasktest"
	"github.com/amp-bg-tasks/amp-bg-tasks/remote"
	"github.com/amp-bg-tasks/amp-bg-tasks/supervisor"
)

// remoteApp is an App whose ssh reaches srv (BG_SSH="ssh -F ...") and
// whose dist folder holds a static build of bgtask-tool for this
// machine; its master connection is closed at cleanup.
func remoteApp(t *testing.T, srv *remotetest.Server, env ...string) *App {
	t.Helper()
	a := newTestApp(t, append(srv.AppEnv(t), env...)...)
	t.Cleanup(func() {
		if d, err := a.remoteDeployer(); err == nil {
			srv.CloseMasters(d.Transport.(*remote.SSH))
		}
	})
	return a
}

// userProcs lists the remote account's processes but the sshd serving
// our connection.
func userProcs(srv *remotetest.Server) []string {
	var out []string
	for _, pid := range srv.UserProcs() {
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)) // Gone: not listed.
		if c := strings.ReplaceAll(string(comm), "\x00", " "); c != "" && !strings.HasPrefix(c, "sshd") {
			out = append(out, fmt.Sprintf("%d %s", pid, c))
		}
	}
	return out
}

func executeJSON(t *testing.T, a *App, tool *Tool, params string) map[string]any {
	t.Helper()
	out, err := a.Execute(context.Background(), tool, []byte(params))
	if err != nil {
		t.Fatalf("%s %s: %v", tool.Name, params, err)
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestRemoteEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a task on a remote host through sshd (60 s)")
	}
	t.Parallel()
	srv := remotetest.Start(t)
	notified := filepath.Join(t.TempDir(), "notified")
	a := remoteApp(t, srv, "BG_NOTIFY_CMD=echo \"$BG_TASK_LABEL $BG_TASK_STATUS $BG_TASK_EXIT_CODE\" >> "+notified)
	host := srv.Alias

	// Deploy and run: the task runs there, as the remote user, under the
	// supervisor, and its id routes every later call.
	run := call[RunResult](t, a, RunTool(), `{"command": "echo hello from $(id -un); sleep 600", "label": "srv", "host": "`+host+`"}`)
	if run.Host != host || taskid.ValidID(run.TaskID) != nil || !strings.HasPrefix(run.Message, `Started "srv" on `+host+" as "+run.TaskID+" (pid ") {
		t.Fatalf("bg_run on %s: %+v", host, run)
	}
	if _, err := a.Store.Load(run.TaskID); err == nil {
		t.Error("the remote task has a local task folder")
	}
	srv.Run(t, "test -d ~/.local/state/amp-bg-tasks/"+run.TaskID)
	out := call[OutputResult](t, a, OutputTool(), `{"task_id": "`+run.TaskID+`", "wait_seconds": 20}`)
	if out.Host != host || out.Stdout == nil || *out.Stdout != "hello from "+srv.User {
		t.Errorf("bg_output of the remote task: %+v", out)
	}
	detail := call[TaskDetail](t, a, StatusTool(), `{"task_id": "`+run.TaskID+`"}`)
	if detail.Host != host || detail.Status != supervisor.StatusRunning || !strings.HasPrefix(detail.LogDir, srv.Home) || detail.Processes < 1 {
		t.Errorf("bg_status of the remote task: %+v", detail)
	}
	// Labels are unique per host and cwd.
	if _, err := a.Call(context.Background(), RunTool(), []byte(`{"command": "true", "label": "srv", "host": "`+host+`"}`)); err == nil || !strings.Contains(err.Error(), "already running") {
		t.Errorf("a duplicate label on %s: %v", host, err)
	}
	// A local task of the same label is another task.
	local := call[RunResult](t, a, RunTool(), `{"command": "sleep 600", "label": "srv"}`)

	// The command reaches the remote shell exactly as given.
	tricky := `printf '[%s]' 'a"b' "it's" '$HOME' '` + "`id -u`" + `' '*' "\\" 'tab	x'; echo` + "\n" + `echo "two $((1+1))" *.none`
	want, err := exec.Command("bash", "-c", tricky).Output()
	if err != nil {
		t.Fatal(err)
	}
	params, _ := json.Marshal(map[string]any{"command": tricky, "host": host, "wait_seconds": 30})
	q := call[RunResult](t, a, RunTool(), string(params))
	got := call[OutputResult](t, a, OutputTool(), `{"task_id": "`+q.TaskID+`", "raw": true, "since": false}`)
	if got.Stdout == nil || *got.Stdout+"\n" != string(want) {
		t.Errorf("the tricky command printed %q there, %q here", deref(got.Stdout), want)
	}

	// wait_port runs there.
	port := remotetest.FreePort(t)
	web := call[RunResult](t, a, RunTool(), fmt.Sprintf(`{"command": "exec perl -MIO::Socket::INET -e 'my $s = IO::Socket::INET->new(LocalAddr=>q(127.0.0.1), LocalPort=>%d, Listen=>1, ReuseAddr=>1) or die; sleep 600'", "label": "web", "host": "%s", "wait_port": %d, "wait_seconds": 30}`, port, host, port))
	if web.WaitResult == nil || !web.Ready {
		t.Errorf("wait_port there: %+v", web)
	}

	// A failing build: its digest comes back in the same call.
	build := call[RunResult](t, a, RunTool(), `{"command": "for i in $(seq 1 300); do echo compiling unit $i; done; echo 'src/main.c:42:7: error: expected ; before }' >&2; for i in $(seq 1 300); do echo linking $i; done; echo 'make: *** [all] Error 2' >&2; exit 2", "label": "build", "host": "`+host+`", "wait_seconds": 60}`)
	if build.ExitCode == nil || *build.ExitCode != 2 || build.Stderr == nil || !strings.Contains(*build.Stderr, "main.c:42:7: error") {
		t.Errorf("failing remote build: %+v (stderr %q)", build, deref(build.Stderr))
	}
	dig := call[OutputResult](t, a, OutputTool(), `{"task_id": "`+build.TaskID+`", "view": "digest", "since": false}`)
	if dig.Stderr == nil || !strings.Contains(*dig.Stderr, "Error 2") || dig.Stdout == nil || strings.Count(*dig.Stdout, "\n") > 100 {
		t.Errorf("digest of the remote build: %q / %q", deref(dig.Stdout), deref(dig.Stderr))
	}

	// bg_send types into an interactive remote task.
	repl := call[RunResult](t, a, RunTool(), `{"command": "read -r x; echo \"got $x\"; sleep 600", "label": "repl", "interactive": true, "host": "`+host+`"}`)
	sent := call[SendResult](t, a, SendTool(), `{"task_id": "`+repl.TaskID+`", "text": "it's $HOME"}`)
	if sent.Host != host || sent.Sent == 0 {
		t.Errorf("bg_send: %+v", sent)
	}
	ans := call[OutputResult](t, a, OutputTool(), `{"task_id": "`+repl.TaskID+`", "filter": "got", "wait_seconds": 20}`)
	if ans.Stdout == nil || !strings.Contains(*ans.Stdout, "got it's $HOME") {
		t.Errorf("the interactive task answered %q", deref(ans.Stdout))
	}

	// The list: local and remote tasks, each remote one with its host.
	list := call[StatusList](t, a, StatusTool(), `{}`)
	hosts := map[string]string{}
	for _, s := range list.Tasks {
		hosts[s.TaskID] = s.Host
	}
	if h, ok := hosts[run.TaskID]; !ok || h != host || hosts[local.TaskID] != "" || hosts[build.TaskID] != host {
		t.Errorf("list: %+v", list.Tasks)
	}
	if len(list.Hosts) != 1 || !list.Hosts[0].Reachable || list.Hosts[0].Running != 3 {
		t.Errorf("list hosts: %+v", list.Hosts)
	}

	// A failure is noticed on the next call, however unrelated: the
	// agent's notices and the desktop (here BG_NOTIFY_CMD).
	fail := call[RunResult](t, a, RunTool(), `{"command": "sleep 1; echo broken >&2; exit 3", "label": "late", "host": "`+host+`"}`)
	var notice map[string]any
	tasktest.WaitFor(t, "a notice of the remote failure", func() bool {
		m := executeJSON(t, a, StatusTool(), `{"task_id": "`+local.TaskID+`"}`)
		ns, _ := m["notices"].([]any)
		for _, n := range ns {
			if n.(map[string]any)["task_id"] == fail.TaskID {
				notice = n.(map[string]any)
			}
		}
		return notice != nil
	})
	if notice["status"] != "failed" || !strings.Contains(notice["message"].(string), "exit 3") || notice["host"] != host {
		t.Errorf("notice: %v", notice)
	}
	tasktest.WaitFor(t, "the desktop notification", func() bool {
		b, _ := os.ReadFile(notified)
		return strings.Contains(string(b), "late on "+host+" failed 3")
	})
	if b, _ := os.ReadFile(notified); strings.Count(string(b), "late on") != 1 {
		t.Errorf("notified %q, want once", b)
	}

	// The reaper runs there with each start: a task whose supervisor died
	// is reaped, once past its timeout, by the next bg_run there.
	orphan := call[RunResult](t, a, RunTool(), `{"command": "trap '' HUP; sleep 600", "label": "orphan", "host": "`+host+`"}`)
	dir := "~/.local/state/amp-bg-tasks/" + orphan.TaskID
	wd, _ := strconv.Atoi(strings.TrimSpace(srv.Run(t, "cat "+dir+"/watchdog_pid")))
	if err := syscall.Kill(wd, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	tasktest.WaitFor(t, "the supervisor's death", func() bool { return syscall.Kill(wd, 0) != nil })
	// Nobody enforces its timeout now: make it one that has passed.
	srv.Run(t, "printf 0.01 > "+dir+"/timeout")
	call[RunResult](t, a, RunTool(), `{"command": "true", "host": "`+host+`"}`)
	if st := call[TaskDetail](t, a, StatusTool(), `{"task_id": "`+orphan.TaskID+`"}`); st.Status != supervisor.StatusReaped {
		t.Errorf("orphan after a start there: %s, want reaped", st.Status)
	}

	// A connection dropped mid-wait: a clear error, the task goes on, the
	// next call reconnects.
	d, err := a.remoteDeployer()
	if err != nil {
		t.Fatal(err)
	}
	ssh := d.Transport.(*remote.SSH)
	master, err := ssh.MasterPID(context.Background(), host)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var waitErr error
	wg.Go(func() {
		_, waitErr = a.Call(context.Background(), OutputTool(), []byte(`{"task_id": "`+run.TaskID+`", "wait_seconds": 120}`))
	})
	tasktest.WaitFor(t, "the remote wait", func() bool {
		return strings.Contains(strings.Join(userProcs(srv), "\n"), "bg-output")
	})
	if err := syscall.Kill(master, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if !remote.IsKind(waitErr, remote.KindDropped) || !strings.Contains(waitErr.Error(), "keeps running") {
		t.Errorf("dropped mid-wait: %v", waitErr)
	}
	if st := call[TaskDetail](t, a, StatusTool(), `{"task_id": "`+run.TaskID+`"}`); st.Status != supervisor.StatusRunning {
		t.Errorf("after the drop the task is %s", st.Status)
	}

	// Stop: the whole tree there; then nothing of the remote user runs.
	for _, id := range []string{run.TaskID, web.TaskID, repl.TaskID} {
		if st := call[StopResult](t, a, StopTool(), `{"task_id": "`+id+`"}`); st.Host != host || st.Status != supervisor.StatusKilled {
			t.Errorf("stop %s: %+v", id, st)
		}
	}
	tasktest.WaitFor(t, "no process of the remote user", func() bool { return len(userProcs(srv)) == 0 })

	// Cleanup there forgets it here.
	call[CleanupResult](t, a, StopTool(), `{"task_id": "`+build.TaskID+`", "action": "cleanup"}`)
	if _, err := a.Call(context.Background(), StatusTool(), []byte(`{"task_id": "`+build.TaskID+`"}`)); err == nil {
		t.Error("a cleaned remote task still answers")
	}

	// An unreachable host is a clear error, and the list still lists.
	start := time.Now()
	_, err = a.Call(context.Background(), RunTool(), []byte(`{"command": "true", "host": "`+srv.Unreachable+`"}`))
	if !remote.IsKind(err, remote.KindUnreachable) {
		t.Errorf("unreachable host: %v", err)
	}
	t.Logf("unreachable: %v after %v", err, time.Since(start))
	if err := remote.RecordsIn(a.Store.Dir).Put(remote.Record{ID: "task-1-gone", Host: srv.Refused, Label: "elsewhere", Status: "running", StartedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	list = call[StatusList](t, a, StatusTool(), `{}`)
	var down *HostState
	for i := range list.Hosts {
		if list.Hosts[i].Host == srv.Refused {
			down = &list.Hosts[i]
		}
	}
	if down == nil || down.Reachable || down.Error == "" || len(list.Tasks) < 3 {
		t.Errorf("list with a host down: %+v %+v", list.Hosts, list.Tasks)
	}
	_ = remote.RecordsIn(a.Store.Dir).Remove("task-1-gone")

	// A changed host key: refused, with how to fix it.
	_ = ssh.Exit(context.Background(), host)
	srv.NewHostKey(t)
	_, err = a.Call(context.Background(), StatusTool(), []byte(`{"task_id": "`+run.TaskID+`"}`))
	if !remote.IsKind(err, remote.KindHostKeyChanged) {
		t.Errorf("changed host key: %v", err)
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// Over MCP a call has a time limit: it goes to the host with the call
// (seconds left, less the time for the answer to come back), and a
// call without one passes none.
func TestRemoteCallLimitEnv(t *testing.T) {
	t.Parallel()
	ctx := WithCallLimit(context.Background(), CallLimit{Until: time.Now().Add(20 * time.Second)})
	kv := callLimitEnv(ctx)
	secs, err := strconv.ParseFloat(strings.TrimPrefix(kv, remote.CallLeftEnv+"="), 64)
	if err != nil || secs > 17 || secs < 10 {
		t.Errorf("%q: %v", kv, err)
	}
	if kv := callLimitEnv(context.Background()); kv != "" {
		t.Errorf("without a limit: %q", kv)
	}
}

// A remote wait stops as soon as its caller is gone (here: ssh killed
// mid-wait), takes no line the caller did not get, and leaves no tool
// waiting there; a remote wait cut short by the call's limit answers as
// a local one does, with wait_left and how to go on.
func TestRemoteWaitEndsWithItsCaller(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a task on a remote host through sshd")
	}
	t.Parallel()
	srv := remotetest.Start(t)
	a := remoteApp(t, srv)
	run := call[RunResult](t, a, RunTool(), `{"command": "echo first; sleep 6; echo late1; echo late2; exec sleep 600", "host": "`+srv.Alias+`", "wait_for": "first"}`)
	if run.WaitResult == nil || !run.Ready {
		t.Fatalf("bg_run there: %+v", run)
	}
	waiting := func() []string {
		var out []string
		for _, p := range userProcs(srv) {
			if strings.Contains(p, "bg-output") {
				out = append(out, p)
			}
		}
		return out
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := a.Call(ctx, OutputTool(), []byte(`{"task_id": "`+run.TaskID+`", "wait_seconds": 60}`))
		done <- err
	}()
	tasktest.WaitFor(t, "the wait there", func() bool { return len(waiting()) > 0 })
	cancel() // Kills the ssh carrying the call.
	if err := <-done; err == nil {
		t.Error("the cancelled call answered")
	}
	gone := time.Now()
	for len(waiting()) > 0 && time.Since(gone) < time.Second {
		time.Sleep(20 * time.Millisecond)
	}
	if w := waiting(); len(w) > 0 {
		t.Errorf("1 s after its caller was gone, still waiting there: %q", w)
	} else {
		t.Logf("the tool there ended %v after the call was cancelled", time.Since(gone).Round(time.Millisecond))
	}
	// The lines printed after the caller left are the next read's.
	tasktest.WaitFor(t, "the late lines there", func() bool {
		return strings.Contains(srv.Run(t, "cat ~/.local/state/amp-bg-tasks/"+run.TaskID+"/stdout"), "late2")
	})
	out := call[OutputResult](t, a, OutputTool(), `{"task_id": "`+run.TaskID+`"}`)
	if out.Stdout == nil || *out.Stdout != "late1\nlate2" {
		t.Errorf("the next since-read: %q, want the lines the cancelled call did not get", deref(out.Stdout))
	}
	// The call's limit cuts the wait there, which says so.
	limited := WithCallLimit(context.Background(), CallLimit{Until: time.Now().Add(remoteAnswerMargin + 2*time.Second)})
	res, err := a.Call(limited, OutputTool(), []byte(`{"task_id": "`+run.TaskID+`", "wait_seconds": 60}`))
	if o, ok := res.(OutputResult); err != nil || !ok || o.WaitLeft < 50 || !strings.Contains(o.Message, "wait_seconds=") || o.Host != srv.Alias {
		t.Errorf("a remote wait cut by the call's limit: %+v, %v", res, err)
	}
}

// A host that cannot be reached is asked once, not on every call: the
// notices beside a local call and the list leave it out for
// hostRetryAfter, saying when it was last tried; a call about one of its
// tasks still tries, and cleanup of such a task forgets it here.
func TestRemoteHostDownIsLeftOut(t *testing.T) {
	t.Parallel()
	ssh, err := exec.LookPath("ssh")
	if err != nil {
		t.Skip("needs ssh (package openssh-client)")
	}
	dir := t.TempDir()
	// A port where nothing listens: ssh fails at once, "Connection refused".
	conf, calls := remotetest.ClosedHost(t), filepath.Join(dir, "calls")
	wrapper := filepath.Join(dir, "ssh-logged")
	script := fmt.Sprintf("#!/bin/sh\necho \"$*\" >> %s\nexec %s -F %s \"$@\"\n", calls, ssh, conf)
	if err := os.WriteFile(wrapper, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	tries := func() int {
		b, _ := os.ReadFile(calls) // None yet: 0.
		return strings.Count(string(b), "\n")
	}
	a := newTestApp(t, "BG_SSH="+wrapper, "XDG_RUNTIME_DIR=")
	t.Cleanup(func() { removeControlDir(a) })
	local := call[RunResult](t, a, RunTool(), `{"command": "true", "label": "here", "wait_seconds": 30}`)
	recs := remote.RecordsIn(a.Store.Dir)
	for _, id := range []string{"task-1-far", "task-2-far"} {
		if err := recs.Put(remote.Record{ID: id, Host: "closed", Label: id, Command: "sleep 600", Status: supervisor.StatusRunning, StartedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	code := 130
	if err := recs.Put(remote.Record{ID: "task-0-far", Host: "closed", Label: "ended", Command: "false", Status: supervisor.StatusFailed, ExitCode: &code, StartedAt: time.Now().Add(-time.Minute)}); err != nil {
		t.Fatal(err)
	}

	executeJSON(t, a, StatusTool(), `{"task_id": "`+local.TaskID+`"}`)
	if n := tries(); n != 1 {
		t.Fatalf("the first local call asked the host %d time(s), want 1", n)
	}
	for range 2 {
		executeJSON(t, a, StatusTool(), `{"task_id": "`+local.TaskID+`"}`)
	}
	list := call[StatusList](t, a, StatusTool(), `{}`)
	if n := tries(); n != 1 {
		t.Errorf("after two more local calls and a list the host was asked %d time(s), want 1", n)
	}
	if len(list.Hosts) != 1 || list.Hosts[0].Reachable || !strings.Contains(list.Hosts[0].Error, "not reached") || !strings.Contains(list.Hosts[0].Error, "refused") {
		t.Errorf("list hosts: %+v", list.Hosts)
	}
	for _, s := range list.Tasks {
		switch {
		case s.Host != "closed":
		case s.TaskID == "task-0-far":
			// Ended before: as last known, exit code and all.
			if s.Status != supervisor.StatusFailed || s.ExitCode == nil || *s.ExitCode != 130 || s.AutoKill != "" {
				t.Errorf("an ended task of the host down lists as %+v, want failed, exit 130, no auto_kill", s)
			}
		case s.Status != "unreachable":
			t.Errorf("a running task of the host down lists as %+v", s)
		}
	}

	// Once the window has passed, it is asked again.
	a.Now = func() time.Time { return time.Now().Add(hostRetryAfter + time.Second) }
	executeJSON(t, a, StatusTool(), `{"task_id": "`+local.TaskID+`"}`)
	if n := tries(); n != 2 {
		t.Errorf("after %s the host was asked %d time(s), want 2", hostRetryAfter, n)
	}

	// A call about its task tries, and says it cannot be reached.
	if _, err := a.Execute(context.Background(), StatusTool(), []byte(`{"task_id": "task-1-far"}`)); !remote.IsKind(err, remote.KindUnreachable) {
		t.Errorf("status of a task on the host down: %v", err)
	}
	if n := tries(); n != 3 {
		t.Errorf("a call about its task asked the host %d time(s) in all, want 3", n)
	}
	// Its cleanup tries too, then forgets it here, saying so.
	m := executeJSON(t, a, StopTool(), `{"task_id": "task-1-far", "action": "cleanup"}`)
	if msg, _ := m["message"].(string); !strings.Contains(msg, "may still run on closed") || m["cleaned"] != 1.0 {
		t.Errorf("cleanup of a task on the host down: %v", m)
	}
	if _, ok := recs.Get("task-1-far"); ok || tries() != 4 {
		t.Errorf("after its cleanup: record kept %v, %d tries (want 4)", ok, tries())
	}
}

// removeControlDir removes the random ssh control folder a's calls made
// in the temporary folder (XDG_RUNTIME_DIR is unset for tests: never
// the user's own).
func removeControlDir(a *App) {
	if d, err := a.remoteDeployer(); err == nil {
		_ = os.RemoveAll(d.Transport.(*remote.SSH).ControlDir) // Best effort.
	}
}
