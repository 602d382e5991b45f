package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/cli"
	"github.com/amp-bg-tasks/amp-bg-tasks/installer"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/helperproc"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/tasktest"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/toolboxtest"
	"github.com/amp-bg-tasks/amp-bg-tasks/mcpserver"
	"github.com/amp-bg-tasks/amp-bg-tasks/procs"
	"github.com/amp-bg-tasks/amp-bg-tasks/stack/compose"
	"github.com/amp-bg-tasks/amp-bg-tasks/supervisor"
	"github.com/amp-bg-tasks/amp-bg-tasks/toolbox"
	"github.com/amp-bg-tasks/amp-bg-tasks/top"
)

// The test binary is also a task's supervisor, bgtask itself and a
// server (see toolboxtest.Main), so that the messages test runs real
// tasks.
func TestMain(m *testing.M) {
	helpers.Register("serve", helperproc.Serve)
	toolboxtest.Main(m, &helpers, cli.Main, fullCommands()...)
}

// helpers is this package's registry, filled by TestMain.
var helpers helperproc.Registry

// fullCommands are the commands the full bgtask adds to every build's
// (as main gives them).
func fullCommands() []cli.Command {
	return append(installer.Commands(), mcpserver.Command(), top.Command(), cli.StackCommand(compose.Parse))
}

// Every message the command line prints to a person is in its words too,
// not only --help: the answers of run, send, stop, restart, rm, the wait's
// verdicts, the hints and the errors (unknown task, bad flag, a refused
// duplicate, a task that is not interactive, a supervisor gone). Real
// commands run on real tasks in a temporary state folder, and everything
// each prints on stdout and stderr is checked against agentWords.
// (What the tools answer an agent, as JSON, keeps its words: --json
// output is what scripts and agents read, and is not checked.)
func TestMessagesInPeoplesWords(t *testing.T) {
	t.Parallel()
	a := toolboxtest.NewApp(t, "BG_KILL_GRACE=0.2")
	extra := fullCommands()
	printed := map[string]string{} // by command line
	bgtask := func(args ...string) (string, toolbox.ExitCode) {
		t.Helper()
		var out, errOut bytes.Buffer
		a.Stdout, a.Stderr = &out, &errOut
		code := cli.Run(context.Background(), a, "bgtask", args, extra...)
		line := "bgtask " + strings.Join(args, " ")
		printed[line] += out.String() + errOut.String()
		return out.String() + errOut.String(), code
	}
	// must runs a command that must succeed (or fail: ok false) and
	// returns what it printed.
	must := func(ok bool, args ...string) string {
		t.Helper()
		text, code := bgtask(args...)
		if (code == toolbox.ExitOK) != ok {
			t.Fatalf("bgtask %s: exit %d, want success %v:\n%s", strings.Join(args, " "), code, ok, text)
		}
		return text
	}

	// run: started, a refused duplicate, each way a wait ends, bad input.
	must(true, "run", "--label", "web", "--", "echo hello from web; exec sleep 600")
	must(false, "run", "--label", "web", "--", "exec sleep 600")
	must(true, "run", "--label", "ready", "--wait-for", "hello", "--", "echo hello; exec sleep 600")
	must(false, "run", "--label", "slow", "--wait-for", "never", "--wait-seconds", "1", "--", "exec sleep 600")
	must(false, "run", "--label", "early", "--wait-port", "45999", "--wait-seconds", "30", "--",
		"echo 'Error: listen EADDRINUSE: address already in use :::45999' >&2; exit 1")
	must(false, "run", "--label", "quick", "--wait-seconds", "30", "--", "echo done; exit 3")
	must(true, "run", "--label", "fine", "--wait-seconds", "30", "--", "echo fine")
	// A server that cannot bind its port because a task of ours holds it:
	// the hint names that task, and the flags to replace it.
	addr, p := tasktest.FreeAddr(t)
	port := strconv.Itoa(p)
	must(true, "run", "--label", "api", "--wait-port", port, "--", helpers.Shell("serve", addr, "0s"))
	must(false, "run", "--label", "api2", "--wait-port", port, "--", helpers.Shell("serve", addr, "0s")) // Refused: held.
	_, p = tasktest.FreeAddr(t)
	other := strconv.Itoa(p)
	if text := must(false, "run", "--label", "api2", "--wait-port", other, "--", helpers.Shell("serve", addr, "0s", "crash")); !strings.Contains(text, "is held by your task") {
		t.Errorf("a run that could not bind a port our task holds does not say so:\n%s", text)
	}
	must(false, "run", "--interactive", "--restart", "always", "--", "cat")
	must(false, "run", "--timeout", "0", "--label", "forever", "--wait-port", "x", "--", "true")
	must(false, "run", "--bogus", "--", "true")
	must(false, "run")
	must(true, "run", "--label", "repl", "--interactive", "--", "cat")

	// send: typed, not interactive, nothing to type, no such task.
	must(true, "send", "repl", "hello")
	must(false, "send", "web", "hello")
	must(false, "send", "repl", "--no-enter")
	must(false, "send", "nosuch", "hi")

	// Reading: the list, one task, its logs, its events.
	must(true, "ls")
	must(true, "ls", "--all")
	must(true, "status")
	must(true, "status", "web")
	must(true, "status", "quick")
	must(false, "status", "nosuch")
	must(true, "logs", "web")
	must(true, "logs", "quick", "-f")
	must(true, "logs", "quick", "--digest")
	must(false, "logs", "nosuch")
	must(false, "logs", "web", "--color", "sometimes")
	must(true, "watch", "fine")
	must(false, "port", "1")
	must(true, "hosts")
	must(false, "frobnicate")

	// A task whose supervisor is gone: what status and ls advise.
	// SIGHUP ignored: the supervisor's terminals close with it.
	must(true, "run", "--label", "orphan", "--", "trap '' HUP; exec sleep 600")
	orphan := loadByLabel(t, a, "orphan")
	if err := procs.Signal(orphan.Watchdog, syscall.SIGKILL); err != nil {
		t.Fatalf("kill the supervisor of orphan: %v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for procs.Alive(context.Background(), orphan.Watchdog) {
		if time.Now().After(deadline) {
			t.Fatal("the supervisor of orphan did not end")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if text := must(true, "status", "orphan"); !strings.Contains(text, "gone") {
		t.Errorf("status of a task whose supervisor is gone does not say so:\n%s", text)
	}
	must(true, "ls")
	must(true, "reap", "--dry-run")

	// A project's services: one that runs, one that fails at once, then down.
	procfile := "api: echo listening; exec sleep 600\nbroken: echo 'Error: no config' >&2; exit 1\n"
	if err := os.WriteFile(filepath.Join(a.Wd, "Procfile"), []byte(procfile), 0o644); err != nil {
		t.Fatal(err)
	}
	must(false, "up", "--wait-seconds", "20") // broken fails as it starts: not ready.
	must(false, "up", "nosuch")
	must(true, "down")

	// stop, restart, rm: done, nothing to do, refused, no such task.
	must(true, "stop", "quick")
	must(false, "stop", "nosuch")
	must(false, "stop")
	must(true, "stop", "web")
	must(true, "restart", "web")
	must(false, "rm", "repl")
	must(true, "rm", "quick")
	must(false, "rm", "nosuch")
	must(true, "stop", "--all")
	must(true, "stop", "--all")
	must(true, "rm", "--all")

	for what, text := range printed {
		for _, line := range strings.Split(text, "\n") {
			for _, m := range agentWordsIn(line) {
				t.Errorf("%s speaks the agent protocol (%q):\n  %s", what, m, strings.TrimSpace(line))
			}
		}
	}
	if t.Failed() {
		for what, text := range printed {
			t.Logf("%s:\n%s", what, text)
		}
	}
}

// loadByLabel returns the newest task of label.
func loadByLabel(t *testing.T, a *toolbox.App, label string) *supervisor.Task {
	t.Helper()
	tasks, err := a.Store.List()
	if err != nil {
		t.Fatal(err)
	}
	for i := len(tasks) - 1; i >= 0; i-- {
		if tasks[i].Label == label {
			return tasks[i]
		}
	}
	t.Fatalf("no task %q", label)
	return nil
}
