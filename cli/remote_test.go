package cli

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/remotetest"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/taskid"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/tasktest"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/toolboxtest"
	"github.com/amp-bg-tasks/amp-bg-tasks/procs"
	"github.com/amp-bg-tasks/amp-bg-tasks/remote"
	"github.com/amp-bg-tasks/amp-bg-tasks/supervisor"
	"github.com/amp-bg-tasks/amp-bg-tasks/toolbox"
)

// remoteApp is an App whose ssh reaches srv (BG_SSH="ssh -F ...") and
// whose dist folder holds a static build of bgtask-tool for this
// machine; its master connections are closed at cleanup.
func remoteApp(t *testing.T, srv *remotetest.Server, env ...string) *toolbox.App {
	t.Helper()
	a := toolboxtest.NewApp(t, append(srv.AppEnv(t), env...)...)
	t.Cleanup(func() { srv.CloseMasters(sshOf(t, a)) })
	return a
}

// sshOf is the ssh transport a's calls to other hosts use.
func sshOf(t *testing.T, a *toolbox.App) *remote.SSH {
	t.Helper()
	ssh, err := remote.NewSSH(a.Getenv, a.Store.Dir)
	if err != nil {
		t.Fatal(err)
	}
	ssh.Env = a.Environ
	return ssh
}

func TestRemoteCLI(t *testing.T) {
	srv := remotetest.Start(t)
	a := remoteApp(t, srv)
	out, errOut, code := runCLI(t, a, "run", "--host", srv.Alias, "--label", "rt", "--", "for i in 1 2 3; do echo line $i; sleep 0.3; done; printf '%060d\\n' 7 >&2; echo oops >&2; exit 4")
	id := strings.TrimSpace(out)
	if code != toolbox.ExitOK || taskid.ValidID(id) != nil || !strings.Contains(errOut, "Started rt on "+srv.Alias) {
		t.Fatalf("bgtask run --host: %d %q %q", code, out, errOut)
	}
	// Follow it to its end, by label.
	out, errOut, code = runCLI(t, a, "logs", "rt", "-f")
	if code != toolbox.ExitOK || out != "line 1\nline 2\nline 3\n" || !strings.Contains(errOut, "oops\n") || !strings.Contains(errOut, "[rt ended on "+srv.Alias+": failed, exit 4]") {
		t.Errorf("logs -f: %d stdout %q stderr %q", code, out, errOut)
	}
	// watch reads a remote task through its own reader there.
	if out, errOut, code = runCLI(t, a, "watch", "rt", "--filter", "oops|line 3"); code != toolbox.ExitOK || out != "rt lines (2): line 3 | oops\nrt ended: failed, exit 4\n" {
		t.Errorf("watch of a remote task: exit %d %q %q", code, out, errOut)
	}
	// Again, the last line only, cleaned reads too.
	if out, _, _ = runCLI(t, a, "logs", id, "-n", "1", "--stream", "stdout"); out != "line 3\n" {
		t.Errorf("logs -n 1: %q", out)
	}
	// The whole log, as here, however long: a tool's answer holds at
	// most 5,000 lines (a product trial got the last 5,000 of 400,000).
	if _, errOut, code = runCLI(t, a, "run", "--host", srv.Alias, "--label", "big", "--wait-seconds", "60", "--", "seq 1 12000"); code != toolbox.ExitOK {
		t.Fatalf("run seq there: %d %s", code, errOut)
	}
	if out, errOut, code = runCLI(t, a, "logs", "big"); code != toolbox.ExitOK || strings.Count(out, "\n") != 12000 || !strings.HasPrefix(out, "1\n2\n") || !strings.HasSuffix(out, "\n12000\n") {
		t.Errorf("logs of 12,000 lines there: exit %d, %d lines, stderr %q", code, strings.Count(out, "\n"), errOut)
	}
	if out, errOut, code = runCLI(t, a, "rm", "big"); code != toolbox.ExitOK {
		t.Fatalf("rm big: %d %q %q", code, out, errOut)
	}
	if out, _, _ = runCLI(t, a, "logs", id, "--filter", "line 2"); out != "line 2\n" {
		t.Errorf("logs --filter: %q", out)
	}
	// A cap on line length makes a cleaned read, as for a local task.
	if _, errOut, _ = runCLI(t, a, "logs", id, "--max-line-len", "20", "--stream", "stderr"); errOut != "00000000000000000000...[truncated]\noops\n" {
		t.Errorf("logs --max-line-len 20: %q", errOut)
	}
	local, _, _ := runCLI(t, a, "run", "--label", "here", "--", "sleep 600")
	out, _, code = runCLI(t, a, "ls")
	if code != toolbox.ExitOK || !strings.Contains(out, "HOST") {
		t.Fatalf("ls: %s", out)
	}
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) > 1 && f[0] == id && f[1] != srv.Alias, len(f) > 1 && f[0] == strings.TrimSpace(local) && f[1] != "-":
			t.Errorf("ls row %q: wrong HOST", l)
		}
	}
	if out, _, _ = runCLI(t, a, "status", "rt"); !strings.Contains(out, "failed (exit 4)") || !strings.Contains(out, "host:  ") || !strings.Contains(out, srv.Alias+"\n") {
		t.Errorf("status of the remote task: %s", out)
	}
	out, _, code = runCLI(t, a, "hosts")
	if code != toolbox.ExitOK || !strings.Contains(out, srv.Alias) || !strings.Contains(out, "yes") || !strings.Contains(out, toolbox.Version()) {
		t.Errorf("hosts: %s", out)
	}
	out, _, _ = runCLI(t, a, "hosts", "--json")
	var hosts struct{ Hosts []toolbox.HostInfo }
	if err := json.Unmarshal([]byte(out), &hosts); err != nil || len(hosts.Hosts) != 1 || !hosts.Hosts[0].Reachable || hosts.Hosts[0].Tasks != 1 {
		t.Errorf("hosts --json: %s (%v)", out, err)
	}

	// Nothing listens on a port: only ssh carries data, and its master
	// connection has only its Unix socket in our private folder.
	master, err := sshOf(t, a).MasterPID(context.Background(), srv.Alias)
	if err != nil {
		t.Fatal(err)
	}
	p, err := procs.Lookup(context.Background(), master)
	if err != nil {
		t.Fatal(err)
	}
	if u, err := procs.TreeUsage(context.Background(), []procs.Proc{p}); err != nil || len(u.Listening) > 0 {
		t.Errorf("the master connection listens on %v (%v)", u.Listening, err)
	}
	// No secret is written: the state folder holds records, no key.
	key, _ := os.ReadFile(strings.TrimSuffix(srv.Config, "ssh_config") + "id")
	_ = filepath.WalkDir(a.Store.Dir, func(path string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() || e.Type()&os.ModeSocket != 0 {
			return nil
		}
		b, _ := os.ReadFile(path)
		if strings.Contains(string(b), "PRIVATE KEY") || len(key) > 0 && strings.Contains(string(b), string(key[40:80])) {
			t.Errorf("%s holds a secret", path)
		}
		return nil
	})

	// A remote state folder that is not the remote user's own is refused.
	if out, err := exec.Command("chown", "root", srv.Home+"/.local/state/amp-bg-tasks").CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if _, errOut, code = runCLI(t, a, "status", id); code == toolbox.ExitOK || !strings.Contains(errOut, "refusing") || !strings.Contains(errOut, "on "+srv.Alias) {
		t.Errorf("a foreign state folder there: %d %q", code, errOut)
	}
	if out, err := exec.Command("chown", srv.User, srv.Home+"/.local/state/amp-bg-tasks").CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}

	// stop --all and rm --all (bg_stop's cleanup without an id) reach the
	// tasks started from here on other hosts, and only those: a task the
	// remote user ran there themselves stays.
	theirs := srv.Run(t, `echo '{"command":"true","label":"theirs","wait_seconds":30}' | env TOOLBOX_ACTION=execute ~/`+remote.BinDir+`/*/bg-run`)
	if !strings.Contains(theirs, `"completed"`) {
		t.Fatalf("their own task there: %s", theirs)
	}
	long, _, code := runCLI(t, a, "run", "--host", srv.Alias, "--label", "long", "--", "sleep 600")
	long = strings.TrimSpace(long)
	if code != toolbox.ExitOK {
		t.Fatalf("run --host: %d", code)
	}
	// restart reaches a task on another host (and so does top's r, which
	// runs it): the same id, its command run again there.
	pidBefore := strings.TrimSpace(srv.Run(t, "cat ~/.local/state/amp-bg-tasks/"+long+"/pid"))
	if out, errOut, code = runCLI(t, a, "restart", "long"); code != toolbox.ExitOK || strings.TrimSpace(out) != long || !strings.Contains(errOut, "restart 1") {
		t.Errorf("restart of a remote task: exit %d, %q %q", code, out, errOut)
	}
	if pidAfter := strings.TrimSpace(srv.Run(t, "cat ~/.local/state/amp-bg-tasks/"+long+"/pid")); pidAfter == pidBefore || pidAfter == "" {
		t.Errorf("the remote task's pid %s -> %s: not restarted there", pidBefore, pidAfter)
	}
	if out, _, _ = runCLI(t, a, "status", long); !strings.Contains(out, "running") || !strings.Contains(out, "restarts:   1") {
		t.Errorf("status after the remote restart: %s", out)
	}
	if out, errOut, code = runCLI(t, a, "stop", "--all"); code != toolbox.ExitOK || !strings.Contains(errOut, "long") || !strings.Contains(errOut, "here") {
		t.Errorf("stop --all: %d %q %q", code, out, errOut)
	}
	for _, ref := range []string{long, strings.TrimSpace(local)} {
		if out, _, _ = runCLI(t, a, "status", ref); !strings.Contains(out, "killed") {
			t.Errorf("after stop --all, %s: %s", ref, out)
		}
	}
	// Here: the local task; there: rt and long.
	if out, _, code = runCLI(t, a, "rm", "--all"); code != toolbox.ExitOK || !strings.Contains(out, "Removed 3 finished task(s)") {
		t.Errorf("rm --all: %d %q", code, out)
	}
	if recs := remote.RecordsIn(a.Store.Dir).List(); len(recs) != 0 {
		t.Errorf("records left after rm --all: %+v", recs)
	}
	if left := srv.Run(t, "ls ~/.local/state/amp-bg-tasks | grep '^task-' || true"); strings.Count(left, "task-") != 1 {
		t.Errorf("task folders there after rm --all (want only their own): %q", left)
	}
}

// bgtask rm of a task on a host that cannot be reached cannot clean it
// there: it forgets the task here, saying in people's words that it may
// still run there, and touches nothing else (the host's other tasks, the
// tasks here). It was tested from toolbox until the remote calls moved
// behind toolbox's Tasks seam.
func TestRemoveOnUnreachableHost(t *testing.T) {
	if _, err := exec.LookPath("ssh"); err != nil {
		t.Skip("needs ssh (package openssh-client)")
	}
	a := toolboxtest.NewApp(t, "BG_SSH=ssh -F "+remotetest.ClosedHost(t), "XDG_RUNTIME_DIR=")
	t.Cleanup(func() { _ = os.RemoveAll(sshOf(t, a).ControlDir) }) // Best effort.
	local := toolboxtest.StartTask(t, a, map[string]any{"command": "echo kept", "label": "here", "wait_seconds": 30})
	recs := remote.RecordsIn(a.Store.Dir)
	for _, id := range []string{"task-1-far", "task-2-far"} {
		if err := recs.Put(remote.Record{ID: id, Host: "closed", Label: "far " + id, Command: "sleep 600", Status: supervisor.StatusRunning, StartedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	here := tasktest.SnapshotDir(t, filepath.Join(a.Store.Dir, local.TaskID))

	out, errOut, code := runCLI(t, a, "rm", "task-2-far")
	if code != toolbox.ExitOK || out != "Removed task-2-far\n" {
		t.Errorf("bgtask rm of a task on a host down: exit %d, stdout %q, want 0 and its id", code, out)
	}
	if want := "Forgot task-2-far (far task-2-far) here only: "; !strings.HasPrefix(errOut, want) ||
		!strings.Contains(errOut, "It may still run on closed and its files stay there") || strings.Count(errOut, "\n") != 1 {
		t.Errorf("stderr %q, want one line that starts %q and says it may still run on closed", errOut, want)
	}
	if _, ok := recs.Get("task-2-far"); ok {
		t.Error("task-2-far is still recorded here")
	}
	if _, ok := recs.Get("task-1-far"); !ok {
		t.Error("task-1-far, on the same host but not named, was forgotten too")
	}
	if now := tasktest.SnapshotDir(t, filepath.Join(a.Store.Dir, local.TaskID)); now != here {
		t.Errorf("the local task's folder changed:\n%s\nwas:\n%s", now, here)
	}
}
