package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/capture"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/tasktest"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/toolboxtest"
	"github.com/amp-bg-tasks/amp-bg-tasks/toolbox"
)

// `bgtask logs` reads as the agent does when asked: --filter, --exclude
// and --clean clean the output (escape codes gone, repeats collapsed),
// --tail is -n.
func TestLogsCleanedOptions(t *testing.T) {
	t.Parallel()
	a := toolboxtest.NewApp(t)
	cmd := `printf '\033[32mGET / 200\033[0m\n'; for i in 1 2 3 4 5 6; do echo 'HMR update src/toolbox.App.tsx'; done; ` +
		`echo 'TypeError: x is undefined'; echo 'warn: slow' >&2; echo 'GET /api 200'`
	r := toolboxtest.StartTask(t, a, map[string]any{"command": cmd, "label": "web"})
	tasktest.WaitEnd(t, a.Store, r.TaskID)

	out, errOut, code := runCLI(t, a, "logs", "web", "--filter", "error|warn")
	if code != toolbox.ExitOK || out != "TypeError: x is undefined\n" || errOut != "warn: slow\n" {
		t.Fatalf("--filter: %d %q %q", code, out, errOut)
	}
	out, _, code = runCLI(t, a, "logs", "web", "--exclude", "GET|HMR", "--stream", "stdout")
	if code != toolbox.ExitOK || out != "TypeError: x is undefined\n" {
		t.Fatalf("--exclude: %d %q", code, out)
	}
	out, _, code = runCLI(t, a, "logs", "web", "--clean", "--stream", "stdout")
	if code != toolbox.ExitOK || strings.Contains(out, "\x1b") || !strings.Contains(out, "similar lines collapsed") || !strings.HasPrefix(out, "GET / 200\n") {
		t.Fatalf("--clean: %d %q", code, out)
	}
	out, _, code = runCLI(t, a, "logs", "web", "--clean", "--tail", "1", "--stream", "stdout")
	if code != toolbox.ExitOK || out != "GET /api 200\n" {
		t.Fatalf("--clean --tail 1: %d %q", code, out)
	}
	if _, errOut, code := runCLI(t, a, "logs", "web", "--filter", "("); code != toolbox.ExitError || !strings.Contains(errOut, "filter") {
		t.Fatalf("bad regex: %d %q", code, errOut)
	}
	// A private reader: neither the agent's cursor nor a leftover file.
	if left, _ := filepath.Glob(filepath.Join(a.Store.Dir, r.TaskID, ".cursor_*")); len(left) != 0 {
		t.Fatalf("cursor files left: %v", left)
	}
}

// `bgtask logs -f --filter` follows the cleaned output: each new matching
// line once, then the end line.
func TestLogsFollowCleaned(t *testing.T) {
	t.Parallel()
	a := toolboxtest.NewApp(t)
	dir := t.TempDir()
	gate := filepath.Join(dir, "go")
	cmd := `echo 'error: first'; while [ ! -e ` + gate + ` ]; do sleep 0.05; done; echo 'ok line'; echo 'error: second'; exit 3`
	r := toolboxtest.StartTask(t, a, map[string]any{"command": cmd, "label": "job"})
	var out, errOut syncBuffer
	b := *a
	b.Stdout, b.Stderr = &out, &errOut
	done := make(chan toolbox.ExitCode, 1)
	go func() {
		done <- Run(context.Background(), &b, "bgtask", []string{"logs", "job", "-f", "--filter", "error"})
	}()
	tasktest.WaitFor(t, "the first line", func() bool { return strings.Contains(out.String(), "error: first") })
	if err := os.WriteFile(gate, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-done:
		if code != toolbox.ExitOK {
			t.Fatalf("exit %d: %s", code, errOut.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("logs -f did not return after the task ended")
	}
	if got := out.String(); got != "error: first\nerror: second\n" {
		t.Fatalf("followed %q", got)
	}
	if !strings.Contains(errOut.String(), "[job ended: failed, exit 3]") {
		t.Fatalf("end line: %q", errOut.String())
	}
	tasktest.WaitEnd(t, a.Store, r.TaskID)
}

// Colour for people on a terminal only: never in a pipe, never with
// NO_COLOR; FORCE_COLOR forces it, and coloured columns stay aligned.
func TestCLIColour(t *testing.T) {
	t.Parallel()
	a := toolboxtest.NewApp(t)
	r := toolboxtest.StartTask(t, a, map[string]any{"command": `printf '\033[31mred\033[0m\n'; exit 1`, "label": "colours"})
	tasktest.WaitEnd(t, a.Store, r.TaskID)
	now := time.Now()
	var plain string
	for _, tt := range []struct {
		env    []string
		colour bool
	}{
		{nil, false}, // A buffer is not a terminal.
		{[]string{"FORCE_COLOR=1"}, true},
		{[]string{"FORCE_COLOR=1", "NO_COLOR=1"}, false},
		{[]string{"FORCE_COLOR=1", "TERM=dumb"}, false},
	} {
		b := *a
		// Whatever the account running the tests has set (TERM=dumb in
		// CI, NO_COLOR in a user's profile): each case says it all.
		base := append([]string{}, a.Environ...)
		base = append(base, "TERM=xterm-256color", "NO_COLOR=", "FORCE_COLOR=")
		b.Getenv = toolbox.EnvGetter(append(base, tt.env...))
		b.Now = func() time.Time { return now }
		ls, _, code := runCLI(t, &b, "ls")
		logs, _, _ := runCLI(t, &b, "logs", "colours")
		if code != toolbox.ExitOK || strings.Contains(ls, "\x1b[") != tt.colour || strings.Contains(logs, "\x1b[") != tt.colour {
			t.Errorf("env %v: colour in ls %v, in logs %v; want %v\n%s%s", tt.env, strings.Contains(ls, "\x1b["), strings.Contains(logs, "\x1b["), tt.colour, ls, logs)
		}
		if !tt.colour {
			plain = ls
			if logs != "red\n" {
				t.Errorf("env %v: logs %q, want the text without its escape codes", tt.env, logs)
			}
			continue
		}
		// Without its codes the coloured table is the plain one: the
		// columns after the coloured one did not move.
		var stripped bytes.Buffer
		if _, err := capture.NewEscapeStripper(&stripped).Write([]byte(ls)); err != nil {
			t.Fatal(err)
		}
		if stripped.String() != plain {
			t.Errorf("coloured ls, codes removed:\n%s\nplain ls:\n%s", stripped.String(), plain)
		}
	}
}

// Every subcommand answers --help on stdout with its usage, options and
// an example, exit 0; a mistake prints its error once, with the usage,
// exit 1.
func TestCLIHelpAndErrors(t *testing.T) {
	t.Parallel()
	a := toolboxtest.NewApp(t)
	for _, c := range commandSet(nil) {
		if strings.HasPrefix(c.Name, "__") {
			continue
		}
		out, errOut, code := runCLI(t, a, c.Name, "--help")
		if code != toolbox.ExitOK || errOut != "" || !strings.HasPrefix(out, "Usage: bgtask "+c.Name) || !strings.Contains(out, "\nExample:\n  ") {
			t.Errorf("%s --help: exit %d, stderr %q, stdout:\n%s", c.Name, code, errOut, out)
		}
	}
	out, _, code := runCLI(t, a, "--help")
	if code != toolbox.ExitOK || !strings.Contains(out, "bgtask logs") || !strings.Contains(out, "COMMAND --help") {
		t.Errorf("--help: %d\n%s", code, out)
	}
	_, errOut, code := runCLI(t, a, "ls", "--jsn")
	if code != toolbox.ExitError || strings.Count(errOut, "flag provided but not defined") != 1 || !strings.Contains(errOut, "Usage: bgtask ls") {
		t.Errorf("ls --jsn: exit %d\n%s", code, errOut)
	}
	_, errOut, code = runCLI(t, a, "status", "nosuch")
	if code != toolbox.ExitError || strings.Count(errOut, "nosuch") != 1 || strings.Contains(errOut, "usage") {
		t.Errorf("status nosuch: exit %d\n%s", code, errOut)
	}
}

// A stop says, before it waits, that it may wait the grace period.
func TestCLIStopSaysItWaits(t *testing.T) {
	t.Parallel()
	a := toolboxtest.NewApp(t)
	r := toolboxtest.StartTask(t, a, map[string]any{"command": helpers.Shell("hang"), "label": "srv"})
	out, errOut, code := runCLI(t, a, "stop", "srv")
	if code != toolbox.ExitOK || !strings.Contains(errOut, "Stopping srv: SIGTERM to its processes, SIGKILL to those still running after 1s") || !strings.Contains(out, "Stopped srv") {
		t.Fatalf("stop: %d\nstdout %q\nstderr %q", code, out, errOut)
	}
	if task := tasktest.WaitEnd(t, a.Store, r.TaskID); task.Status != "killed" {
		t.Fatalf("status %s", task.Status)
	}
	if _, errOut, _ := runCLI(t, a, "stop", "srv"); strings.Contains(errOut, "Stopping") {
		t.Fatalf("stopping a finished task announced a wait: %q", errOut)
	}
}
