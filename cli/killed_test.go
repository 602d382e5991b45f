package cli

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/tasktest"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/toolboxtest"
	"github.com/amp-bg-tasks/amp-bg-tasks/toolbox"
)

// A CLI killed during a since-read's wait leaves the cursor before the
// lines it did not print: the next since-read prints them.
func TestKilledCLIWaitKeepsTheCursor(t *testing.T) {
	t.Parallel()
	a := toolboxtest.NewApp(t)
	r := toolboxtest.StartTask(t, a, map[string]any{"label": "slow", "command": "echo first; sleep 3; echo late1; echo late2; exec sleep 600"})
	tasktest.WaitFor(t, "the first line", func() bool {
		b, _ := os.ReadFile(filepath.Join(a.Store.Dir, r.TaskID, "stdout"))
		return strings.Contains(string(b), "first")
	})
	if out, errOut, code := runCLI(t, a, "logs", "slow", "--since"); code != toolbox.ExitOK || out != "first\n" {
		t.Fatalf("the first since-read: exit %d, %q %q", code, out, errOut)
	}
	c := exec.Command(os.Args[0], "logs", "slow", "--since", "--wait-seconds", "60")
	c.Env = append(append([]string{}, a.Environ...), "BGTEST_MAIN_AS=bgtask", "TASKS_DIR="+a.Store.Dir)
	c.Dir = a.Wd
	out, err := c.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	// Its wait has begun when it has read the cursor once: give it the
	// time to, well before the late lines come (3 s after the first).
	time.Sleep(500 * time.Millisecond)
	_ = c.Process.Signal(syscall.SIGKILL)
	_ = c.Wait()
	printed, _ := bufio.NewReader(out).ReadString(0)
	if printed != "" {
		t.Fatalf("the killed CLI printed %q", printed)
	}
	tasktest.WaitFor(t, "the late lines", func() bool {
		b, _ := os.ReadFile(filepath.Join(a.Store.Dir, r.TaskID, "stdout"))
		return strings.Contains(string(b), "late2")
	})
	if got, errOut, code := runCLI(t, a, "logs", "slow", "--since"); code != toolbox.ExitOK || got != "late1\nlate2\n" {
		t.Errorf("the since-read after the killed one: exit %d, %q %q; want the lines it did not print", code, got, errOut)
	}
}
