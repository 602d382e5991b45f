package procs

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/helperproc"
)

// The test binary doubles as the processes the tests kill, as in os/exec's
// tests, so no system program is needed: see helperproc.
func TestMain(m *testing.M) {
	helpers.Register("hang", helperproc.Hang)
	helpers.Register("signal-report", helperproc.SignalReport)
	helpers.Register("tree", helperproc.Tree)
	helpers.Register("graceful", helperproc.Graceful)
	helpers.Register("listen", listenHelper)
	helpers.Main(m)
}

// helpers is this package's registry, filled by TestMain.
var helpers helperproc.Registry

// startHelper starts a helper in its own session and returns it once it has
// printed a line starting with until. Cleanup ends its group and anything
// carrying marker.
func startHelper(t *testing.T, role, marker, until string, args ...string) (*exec.Cmd, Proc) {
	t.Helper()
	c := helpers.Command(role, args...)
	if marker != "" {
		c.Env = append(c.Env, MarkerEnv+"="+marker)
	}
	c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	out, err := c.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL) // Best effort: may be gone already.
		if marker != "" {
			_, _ = KillTree(context.Background(), Target{Marker: marker, Grace: 100 * time.Millisecond})
		}
		_ = c.Wait()
	})
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), until) {
			break
		}
	}
	if sc.Err() != nil {
		t.Fatalf("helper %s: %v", role, sc.Err())
	}
	go func() { // Keep draining so the helpers never block on a full pipe.
		for sc.Scan() {
		}
	}()
	p, err := Lookup(context.Background(), c.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	return c, p
}

func markerOf(t *testing.T) string {
	return fmt.Sprintf("test-%s-%d", t.Name(), time.Now().UnixNano())
}

func marked(t *testing.T, marker string) []Proc {
	t.Helper()
	tab, err := Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return tab.Marked()[marker]
}

func TestKillTreeEndsSetsidGrandchild(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name               string
		stubborn, midExits bool
		// Processes alive before the kill: all, and those reachable by parent links.
		marked, linked int
	}{
		{"setsid leaf", false, false, 3, 3},
		{"leaf ignores SIGTERM", true, false, 3, 3},
		{"double-forked leaf", false, true, 2, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			marker := markerOf(t)
			var opts []string
			if tc.stubborn {
				opts = append(opts, "stubborn")
			}
			if tc.midExits {
				opts = append(opts, "daemon")
			}
			_, root := startHelper(t, "tree", marker, "leaf ", opts...)
			waitFor(t, func() (string, bool) {
				n := len(marked(t, marker))
				return fmt.Sprint(n), n == tc.marked // The exiting mid may take a moment to be reaped.
			})
			tab, _ := Snapshot(context.Background())
			if got := len(tab.Tree(root, "")); got != tc.linked {
				t.Errorf("parent links alone find %d processes, want %d", got, tc.linked)
			}
			res, err := KillTree(context.Background(), Target{Root: root, Marker: marker, Grace: 500 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Signalled) != tc.marked {
				t.Errorf("signalled %v, want %d processes", res.Signalled, tc.marked)
			}
			if tc.stubborn && len(res.Forced) != 1 {
				t.Errorf("forced %v, want exactly the process that ignores SIGTERM", res.Forced)
			}
			if left := marked(t, marker); len(left) != 0 {
				t.Fatalf("still alive after KillTree: %v", left)
			}
		})
	}
}

func TestKillTreeNeverSignalsReusedPID(t *testing.T) {
	t.Parallel()
	report := t.TempDir() + "/signals"
	c, real := startHelper(t, "signal-report", "", "ready", report)
	stale := Proc{PID: real.PID, Start: real.Start - 5000} // Same PID, another life.
	res, err := KillTree(context.Background(), Target{Root: stale, Grace: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Signalled) != 0 {
		t.Fatalf("signalled %v for a stale record", res.Signalled)
	}
	// Signals are delivered lowest number first, so once the helper reports
	// SIGWINCH (28) a SIGTERM (15) sent before it would have been reported.
	if err := c.Process.Signal(syscall.SIGWINCH); err != nil {
		t.Fatal(err)
	}
	got := waitFor(t, func() (string, bool) {
		b, _ := os.ReadFile(report)
		return string(b), strings.Contains(string(b), "window changed")
	})
	if strings.Contains(got, "terminated") {
		t.Fatalf("helper got SIGTERM although its start time did not match: %q", got)
	}
	if !Alive(context.Background(), real) {
		t.Fatal("helper died")
	}
}

// A stopped process (SIGSTOP) is continued after SIGTERM, so its handler
// runs and it exits by itself instead of being SIGKILLed after the grace.
func TestKillTreeContinuesAStoppedProcess(t *testing.T) {
	t.Parallel()
	report := t.TempDir() + "/signals"
	c, p := startHelper(t, "graceful", "", "ready", report)
	if err := c.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() (string, bool) { return "", Stopped(context.Background(), p) })
	if _, err := KillTree(context.Background(), Target{Root: p, Grace: 20 * time.Second}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(report); string(b) != "terminated\n" {
		t.Errorf("the stopped process never ran its SIGTERM handler: it reported %q", b)
	}
}

func TestAliveRejectsZombieAndStaleStart(t *testing.T) {
	t.Parallel()
	c, p := startHelper(t, "hang", "", "ready")
	if !Alive(context.Background(), p) {
		t.Fatal("live helper not alive")
	}
	if Alive(context.Background(), Proc{PID: p.PID, Start: p.Start + 10}) {
		t.Fatal("alive with another start time")
	}
	if err := c.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	// Not waited for yet: the helper is a zombie now, and must count as gone.
	waitFor(t, func() (string, bool) { return "", !Alive(context.Background(), p) })
}

// waitFor polls cond until it holds or 10 s pass: generous, as the box may be loaded.
func waitFor(t *testing.T, cond func() (string, bool)) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s, ok := cond()
		if ok {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within 10s (last: %q)", s)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
