//go:build linux

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/reaplist"
)

// fakeToolEnv makes the test binary play bgtask-tool: it appends its
// arguments to the file the variable names, so that a test sees whether
// bgtask-call handed the call on.
const fakeToolEnv = "BGCALL_TEST_FAKE_TOOL"

func fakeTool(marker string) int {
	f, err := os.OpenFile(marker, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return 3
	}
	defer f.Close()
	_, _ = f.WriteString(strings.Join(os.Args[1:], " ") + "\n")
	return 0
}

// A shell's bg-reaper with nothing to do (the reaper's list of the state
// folder holds and names nothing, or there is no state folder) ends in
// bgtask-call, silent and successful: it neither calls a server nor runs
// bgtask-tool. Anything else is handed on.
func TestAnIdleReaperEndsInTheClient(t *testing.T) {
	t.Parallel()
	bin := t.TempDir()
	copyFile(t, filepath.Join(binaries(t), "bgtask-call"), filepath.Join(bin, "bgtask-call"))
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	copyFile(t, self, filepath.Join(bin, "bgtask-tool"))
	if err := os.Symlink("bgtask-call", filepath.Join(bin, "bg-reaper")); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(t.TempDir(), "state")
	marker := filepath.Join(t.TempDir(), "handed-on")
	reap := func(args ...string) (handedOn bool) {
		t.Helper()
		_ = os.Remove(marker)
		var env []string // "BG_ENV=K=V" arguments are the call's environment, not its arguments.
		args = slices.DeleteFunc(slices.Clone(args), func(a string) bool {
			kv, ok := strings.CutPrefix(a, "BG_ENV=")
			if ok {
				env = append(env, kv)
			}
			return ok
		})
		c := exec.Command(filepath.Join(bin, "bg-reaper"), args...)
		base := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "BG_") }) // The runner's settings.
		c.Env = append(append(base, "TASKS_DIR="+state, fakeToolEnv+"="+marker, "HOME="+t.TempDir()), env...)
		out, err := c.CombinedOutput()
		if err != nil || len(out) != 0 {
			t.Fatalf("bg-reaper %q: %v, output %q", args, err, out)
		}
		_, err = os.Stat(marker)
		return err == nil
	}
	shell := []string{"--max-age", "180", "--quiet"}
	if reap(shell...) {
		t.Error("no state folder: bg-reaper was handed on")
	}
	if err := os.MkdirAll(filepath.Join(state, reaplist.CacheDir), 0o700); err != nil {
		t.Fatal(err)
	}
	if !reap(shell...) {
		t.Error("a state folder without a reap list: bg-reaper was not handed on")
	}
	write := func(names ...string) {
		t.Helper()
		fi, err := os.Stat(state)
		if err != nil {
			t.Fatal(err)
		}
		store, index := reaplist.Stamps(state, fi)
		l := reaplist.List{Store: store, Index: index, Oldest: time.Now().Add(-time.Hour).Unix(), Names: names}
		if err := os.WriteFile(filepath.Join(state, reaplist.CacheDir, reaplist.File), reaplist.Format(l), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write()
	for _, tc := range []struct {
		args     []string
		handedOn bool
	}{
		{shell, false},
		{nil, false},
		{[]string{"-max-age=120", "-quiet"}, false},
		{[]string{"--max-age", "30", "--quiet"}, true}, // A task the list skipped ended an hour ago.
		{[]string{"--dry-run"}, true},
		{[]string{"--max-age", "-1"}, true},
		{[]string{"--max-age"}, true},
		{[]string{"--quiet", "extra"}, true},
		{[]string{"--max-age", "nan"}, true},
		{[]string{"--max-age", "1e9"}, false}, // "Never": not a negative age that would remove everything.
		{[]string{"--max-age", "inf"}, false},
	} {
		if got := reap(tc.args...); got != tc.handedOn {
			t.Errorf("bg-reaper %q with nothing to do: handed on %v, want %v", tc.args, got, tc.handedOn)
		}
	}
	// A setting is read, and a bad one refused, where the reaper runs.
	if !reap(append(shell, "BG_ENV=BG_KILL_GRACE=bogus")...) {
		t.Error("BG_KILL_GRACE set: bg-reaper was not handed on")
	}
	write("task-1700000000-aaaa0001")
	if !reap(shell...) {
		t.Error("a reap list that names a task: bg-reaper was not handed on")
	}
}
