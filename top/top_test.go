package top

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"github.com/amp-bg-tasks/amp-bg-tasks/capture"
	"github.com/amp-bg-tasks/amp-bg-tasks/cli"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/helperproc"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/toolboxtest"
	"github.com/amp-bg-tasks/amp-bg-tasks/supervisor"
	"github.com/amp-bg-tasks/amp-bg-tasks/toolbox"
)

// The test binary also serves as bgtask with top, and plays the task
// top shows: see toolboxtest.Main.
func TestMain(m *testing.M) {
	helpers.Register("spin", spin)
	toolboxtest.Main(m, &helpers, cli.Main, Command())
}

// helpers is this package's registry, filled by TestMain.
var helpers helperproc.Registry

// spin burns half a core and prints "tick N" every 100 ms, until killed:
// a task with CPU to show and a log to follow.
func spin([]string) int {
	for i := 0; ; i++ {
		for end := time.Now().Add(100 * time.Millisecond); time.Now().Before(end); {
		}
		fmt.Printf("tick %d\n", i)
		time.Sleep(100 * time.Millisecond)
	}
}

// terminal is bgtask top running on a PTY: keys in, screen out.
type terminal struct {
	t    *testing.T
	ptmx *os.File
	tty  *os.File
	cmd  *exec.Cmd
	done chan error

	mu  sync.Mutex
	raw bytes.Buffer // all the PTY's output
}

func startTop(t *testing.T, a *toolbox.App, rows, cols uint16) *terminal {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no PTY here: %v", err)
	}
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: rows, Cols: cols}); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "top", "--interval", "0.3")
	cmd.Env = append(slices.Clone(a.Environ), toolboxtest.MainAsEnv+"=bgtask", "TASKS_DIR="+a.Store.Dir, "TERM=xterm-256color")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	term := &terminal{t: t, ptmx: ptmx, tty: tty, cmd: cmd, done: make(chan error, 1)}
	go func() { term.done <- cmd.Wait() }()
	go func() {
		buf := make([]byte, 32<<10)
		for {
			n, err := ptmx.Read(buf)
			term.mu.Lock()
			term.raw.Write(buf[:n])
			term.mu.Unlock()
			if err != nil {
				return // EIO once every holder of the tty is gone.
			}
		}
	}()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // Best effort: usually gone after q.
		<-term.done
		_ = tty.Close()  // Best effort.
		_ = ptmx.Close() // Best effort: ends the reader.
	})
	return term
}

// text is the output so far without escape sequences, from offset on.
func (term *terminal) text(from int) string {
	term.mu.Lock()
	defer term.mu.Unlock()
	var out bytes.Buffer
	_, _ = capture.NewEscapeStripper(&out).Write(term.raw.Bytes()[min(from, term.raw.Len()):]) // A Buffer does not fail.
	return out.String()
}

func (term *terminal) len() int {
	term.mu.Lock()
	defer term.mu.Unlock()
	return term.raw.Len()
}

func (term *terminal) rawText() string {
	term.mu.Lock()
	defer term.mu.Unlock()
	return term.raw.String()
}

// waitScreen polls the output after from until match finds something.
func (term *terminal) waitScreen(what string, from int, match func(screen string) bool) {
	term.t.Helper()
	deadline := time.Now().Add(60 * time.Second) // A loaded box: generous, never a speed test.
	for !match(term.text(from)) {
		if time.Now().After(deadline) {
			tail := term.text(from)
			term.t.Fatalf("timed out waiting for %s; the screen showed (last 3000 bytes):\n%s", what, tail[max(0, len(tail)-3000):])
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (term *terminal) keys(s string) {
	term.t.Helper()
	if _, err := term.ptmx.Write([]byte(s)); err != nil {
		term.t.Fatal(err)
	}
}

// waitTask polls the store until cond holds for the tasks labelled label.
func waitTask(t *testing.T, a *toolbox.App, what string, cond func(tasks []*supervisor.Task) bool) []*supervisor.Task {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		all, err := a.Store.List()
		if err != nil {
			t.Fatal(err)
		}
		if cond(all) {
			return all
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The proof: top shows a task's label and CPU, follows its log,
// switches views, acts on keys, follows a resize, and quits on q with the
// terminal as it was (alternate screen left, cursor shown, cooked mode).
func TestTopInAPTY(t *testing.T) {
	t.Parallel()
	a := toolboxtest.NewApp(t)
	run := toolbox.ToolByCommand("bg-run")
	params, _ := json.Marshal(map[string]any{"command": helpers.Shell("spin"), "label": "burner"})
	res, err := a.Call(context.Background(), run, params)
	if err != nil {
		t.Fatal(err)
	}
	first := res.(toolbox.RunResult).TaskID

	term := startTop(t, a, 30, 120)
	before, err := unix.IoctlGetTermios(int(term.tty.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}

	// The row: label, status, then a CPU figure above zero.
	row := regexp.MustCompile(`burner +running +\S+ +.+? +(\d+\.\d) `)
	term.waitScreen("burner's row with its CPU above 0", 0, func(s string) bool {
		for _, m := range row.FindAllStringSubmatch(s, -1) {
			if cpu, _ := strconv.ParseFloat(m[1], 64); cpu > 0 {
				return true
			}
		}
		return false
	})
	term.waitScreen("the log pane following the task", 0, func(s string) bool {
		return strings.Contains(s, "burner · tail") && strings.Contains(s, "tick ")
	})

	mark := term.len()
	term.keys("v")
	term.waitScreen("the digest view", mark, func(s string) bool { return strings.Contains(s, "burner · digest") })
	mark = term.len()
	term.keys("/")
	term.waitScreen("the filter field", mark, func(s string) bool { return strings.Contains(s, "filter (regexp):") })
	term.keys("tick 1")
	term.keys("\r")
	term.waitScreen("the filter view", mark, func(s string) bool { return strings.Contains(s, "burner · filter /tick 1/") })

	// A resize reaches top as SIGWINCH and it redraws to the new width:
	// the log pane's rule grows past the old width.
	mark = term.len()
	if err := pty.Setsize(term.ptmx, &pty.Winsize{Rows: 30, Cols: 160}); err != nil {
		t.Fatal(err)
	}
	term.waitScreen("a redraw at 160 columns", mark, func(s string) bool { return strings.Contains(s, strings.Repeat("─", 130)) })

	term.keys("r")
	// A restart keeps the task id (its command runs again in its place).
	waitTask(t, a, "a restarted burner", func(tasks []*supervisor.Task) bool {
		return slices.ContainsFunc(tasks, func(x *supervisor.Task) bool {
			return x.Label == "burner" && x.ID == first && x.Restarts == 1 && x.Status == supervisor.StatusRunning
		})
	})
	second := first
	// Its words, not the id printed for scripts before them.
	term.waitScreen("the restart's message", 0, func(s string) bool { return strings.Contains(s, "restart burner: Restarted burner as") })

	// The selection follows the restarted task: s stops it.
	term.waitScreen("the restarted task selected and running", 0, func(s string) bool {
		return row.MatchString(s[strings.LastIndex(s, "restart burner:"):])
	})
	term.keys("s")
	waitTask(t, a, "the restarted burner stopped", func(tasks []*supervisor.Task) bool {
		i := slices.IndexFunc(tasks, func(x *supervisor.Task) bool { return x.ID == second })
		return i >= 0 && tasks[i].Status != supervisor.StatusRunning
	})
	term.waitScreen("the stop's message", 0, func(s string) bool { return strings.Contains(s, "stop burner:") })
	term.keys("x")
	waitTask(t, a, "the stopped burner removed", func(tasks []*supervisor.Task) bool {
		return !slices.ContainsFunc(tasks, func(x *supervisor.Task) bool { return x.ID == second })
	})

	term.keys("q")
	select {
	case err := <-term.done:
		term.done <- err // For the cleanup.
		if err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				t.Fatalf("top exited with %v; it printed:\n%s", err, term.text(0))
			}
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("top still runs 60 s after q")
	}
	raw := term.rawText()
	enter := strings.LastIndex(raw, "\x1b[?1049h")
	if enter < 0 {
		t.Fatal("top never entered the alternate screen")
	}
	after := raw[enter:]
	if !strings.Contains(after, "\x1b[?1049l") {
		t.Error("top quit without leaving the alternate screen")
	}
	if !strings.Contains(after, "\x1b[?25h") {
		t.Error("top quit without showing the cursor again")
	}
	now, err := unix.IoctlGetTermios(int(term.tty.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	if now.Lflag != before.Lflag || now.Iflag != before.Iflag || now.Oflag != before.Oflag {
		t.Errorf("terminal modes after quitting: lflag %#x iflag %#x oflag %#x, want %#x %#x %#x as before",
			now.Lflag, now.Iflag, now.Oflag, before.Lflag, before.Iflag, before.Oflag)
	}
}

// Without a terminal top says so and fails, as the CLI's errors do.
func TestTopNeedsATerminal(t *testing.T) {
	t.Parallel()
	a := toolboxtest.NewApp(t)
	var out, errOut bytes.Buffer
	a.Stdout, a.Stderr = &out, &errOut
	if code := cli.Run(context.Background(), a, "bgtask", []string{"top"}, Command()); code != toolbox.ExitError {
		t.Fatalf("exit %d, want %d", code, toolbox.ExitError)
	}
	if !strings.Contains(errOut.String(), "top needs a terminal") {
		t.Fatalf("stderr %q does not say a terminal is needed", errOut.String())
	}
}

func TestSparkline(t *testing.T) {
	t.Parallel()
	now := time.Now()
	var s samples
	for i := 0; i < 60; i++ {
		s.add(now.Add(time.Duration(i-59)*time.Second), float64(i%30)*100/29, 0)
	}
	got := s.sparkline(20, now, func(x sample) float64 { return x.cpu }, 100)
	if n := len([]rune(got)); n != 20 {
		t.Fatalf("sparkline %q has %d columns, want 20", got, n)
	}
	if !strings.ContainsRune(got, '█') || strings.ContainsRune(got, ' ') {
		t.Fatalf("a full minute of readings up to the top: %q", got)
	}
	// Readings older than the minute fall out; columns without one are blank.
	s.add(now.Add(2*time.Minute), 0, 0)
	if len(s.list) != 1 {
		t.Fatalf("%d readings kept after a gap of two minutes, want 1", len(s.list))
	}
	if got := s.sparkline(20, now.Add(2*time.Minute), func(x sample) float64 { return x.cpu }, 100); got != strings.Repeat(" ", 19)+"▁" {
		t.Fatalf("one reading of 0: %q", got)
	}
}

// The full bgtask has top (cmd/bgtask-tool's tests check that the lean
// build leaves it out).
func TestFullBuildLinksTop(t *testing.T) {
	t.Parallel()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("needs the go command (golang-go) to list the build's packages")
	}
	out, err := exec.Command(goTool, "list", "-deps", "github.com/amp-bg-tasks/amp-bg-tasks/cmd/bgtask").Output()
	if err != nil {
		t.Fatalf("go list -deps cmd/bgtask: %v", err)
	}
	if !strings.Contains(string(out), "github.com/amp-bg-tasks/amp-bg-tasks/top\n") {
		t.Error("cmd/bgtask does not link the live view")
	}
}

// At 80 columns and 24 rows the table keeps what matters: its header
// holds LABEL, STATUS, AGE, CPU%, MEM and PORTS, a failed task shows its
// exit code (`failed 3`), and the key line fits.
func TestTopAt80Columns(t *testing.T) {
	t.Parallel()
	a := toolboxtest.NewApp(t)
	run := toolbox.ToolByCommand("bg-run")
	params, _ := json.Marshal(map[string]any{"command": "exit 3", "label": "broken"})
	res, err := a.Call(context.Background(), run, params)
	if err != nil {
		t.Fatal(err)
	}
	waitTask(t, a, "broken to fail", func(tasks []*supervisor.Task) bool {
		return slices.ContainsFunc(tasks, func(x *supervisor.Task) bool {
			return x.ID == res.(toolbox.RunResult).TaskID && x.Status == supervisor.StatusFailed
		})
	})
	term := startTop(t, a, 24, 80)
	header := regexp.MustCompile(`LABEL +STATUS +AGE +CPU% +MEM +PORTS`)
	term.waitScreen("the header with MEM and PORTS, and broken's exit code", 0, func(s string) bool {
		return header.MatchString(s) && regexp.MustCompile(`broken +failed 3 `).MatchString(s) && strings.Contains(s, "q quit")
	})
	term.keys("q")
	<-term.done
	term.done <- nil // For the cleanup.
}
