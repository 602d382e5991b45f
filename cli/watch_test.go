package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/tasktest"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/toolboxtest"
	"github.com/amp-bg-tasks/amp-bg-tasks/toolbox"
)

// bgtask watch on a task that prints an error, then fails: one line for
// the error, one ended line with the exit code, and it exits.
func TestWatchErrorThenEnd(t *testing.T) {
	t.Parallel()
	a := toolboxtest.NewApp(t)
	toolboxtest.StartTask(t, a, map[string]any{"label": "build", "command": `echo compiling; sleep 0.5; echo "error: cannot find module 'x'" >&2; sleep 0.5; echo done; exit 2`})
	out, errOut, code := runCLI(t, a, "watch", "build", "--filter", "error")
	want := "build line: error: cannot find module 'x'\nbuild ended: failed, exit 2\n"
	if code != toolbox.ExitOK || out != want {
		t.Errorf("watch: exit %d\n%q\nwant\n%q\n%s", code, out, want, errOut)
	}
}

// A burst comes as one event line, bounded; a server's first listen is
// ready; a restart by its policy says the exit code; a stop ends it.
func TestWatchBurstReadyRestart(t *testing.T) {
	t.Parallel()
	a := toolboxtest.NewApp(t)
	long := strings.Repeat("x", 1000)
	toolboxtest.StartTask(t, a, map[string]any{"label": "burst", "command": fmt.Sprintf(`sleep 0.3; for w in alpha bravo charlie delta echo; do echo "warn $w %s"; done; sleep 0.5`, long)})
	out, _, code := runCLI(t, a, "watch", "burst")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if code != toolbox.ExitOK || len(lines) != 2 || !strings.HasPrefix(lines[0], "burst lines (5): warn alpha ") || len([]rune(lines[0])) > watchEventLen+20 || lines[1] != "burst ended: completed, exit 0" {
		t.Errorf("a burst: exit %d\n%s", code, out)
	}

	// A crash that its policy restarts once.
	toolboxtest.StartTask(t, a, map[string]any{"label": "flaky", "command": "echo run; sleep 0.3; exit 3", "restart": "on_failure", "max_restarts": 1, "backoff_seconds": 0.2})
	out, _, code = runCLI(t, a, "watch", "flaky", "--filter", "ZZZ")
	if want := "flaky restarting: exit 3 (restart 1)\nflaky ended: failed, exit 3\n"; code != toolbox.ExitOK || out != want {
		t.Errorf("watch of a crash restarted once: exit %d\n%q\nwant %q", code, out, want)
	}

	// A server: ready once it listens, again after a restart, ended by a stop.
	addr, _ := tasktest.FreeAddr(t)
	r := toolboxtest.StartTask(t, a, map[string]any{"label": "api", "command": helpers.Shell("serve", addr, "0s")})
	buf := &syncBuffer{}
	wa := *a // Its own streams: runCLI's are the test's.
	wa.Stdout, wa.Stderr = buf, io.Discard
	done := make(chan toolbox.ExitCode, 1)
	go func() { done <- Run(context.Background(), &wa, "bgtask", []string{"watch", "api", "--filter", "ZZZ"}) }()
	tasktest.WaitFor(t, "ready", func() bool { return strings.Contains(buf.String(), "api ready: listening on "+addr+"\n") })
	if _, _, err := a.Restart(context.Background(), r.TaskID); err != nil {
		t.Fatal(err)
	}
	tasktest.WaitFor(t, "restarting and ready again", func() bool { return strings.Count(buf.String(), "ready: listening") == 2 })
	toolboxtest.Call[toolbox.StopResult](t, a, toolbox.StopTool(), fmt.Sprintf(`{"task_id":%q}`, r.TaskID))
	if code := <-done; code != toolbox.ExitOK {
		t.Errorf("watch: exit %d", code)
	}
	out = buf.String()
	if !strings.Contains(out, "api restarting: ") || !strings.HasSuffix(out, "api ended: killed\n") && !strings.Contains(out, "api ended: killed, exit") {
		t.Errorf("watch of a server restarted, then stopped:\n%s", out)
	}
	t.Logf("watch of a server restarted, then stopped:\n%s", out)
}
