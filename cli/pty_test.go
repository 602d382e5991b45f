package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/taskid"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/tasktest"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/toolboxtest"
	"github.com/amp-bg-tasks/amp-bg-tasks/supervisor"
	"github.com/amp-bg-tasks/amp-bg-tasks/toolbox"
)

// The CLI as a person meets it: the program run in a real terminal (a
// PTY), its answer read back from the terminal.

// ptyCLI runs bgtask with args on a's state folder with a PTY as its
// terminal, and returns all it printed there and its exit code.
func ptyCLI(t *testing.T, a *toolbox.App, args ...string) (string, int) {
	t.Helper()
	c := exec.Command(os.Args[0], args...)
	c.Env = append(append([]string{}, a.Environ...), "BGTEST_MAIN_AS=bgtask", "TASKS_DIR="+a.Store.Dir, "TERM=xterm", "NO_COLOR=")
	c.Dir = a.Wd
	f, err := pty.StartWithSize(c, &pty.Winsize{Rows: 40, Cols: 200})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	_, err = io.Copy(&out, f)
	if err != nil && !errors.Is(err, syscall.EIO) { // EIO: the terminal's last holder closed it.
		t.Fatalf("read the terminal: %v", err)
	}
	_ = f.Close() // Read to the end.
	code := 0
	if err := c.Wait(); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatal(err)
		}
		code = ee.ExitCode()
	}
	// The terminal turns \n into \r\n.
	return strings.ReplaceAll(out.String(), "\r\n", "\n"), code
}

// cliCommandOf names the command that calls each tool.
var cliCommandOf = map[string]string{"bg_run": "run", "bg_status": "status", "bg_output": "logs", "bg_stop": "stop", "bg_send": "send"}

// Every parameter of every tool is a flag of its command, except those
// the command takes as arguments: a parameter added to a tool is a flag
// at once.
func TestEveryParameterIsAFlag(t *testing.T) {
	t.Parallel()
	positional := map[string]bool{"command": true, "task_id": true, "text": true}
	a := toolboxtest.NewApp(t)
	for _, tool := range toolbox.Tools() {
		cmd := cliCommandOf[tool.Name]
		if cmd == "" {
			t.Errorf("%s has no command", tool.Name)
			continue
		}
		help, code := ptyCLI(t, a, cmd, "--help")
		if code != 0 {
			t.Fatalf("%s --help: exit %d\n%s", cmd, code, help)
		}
		for _, p := range tool.Params {
			if !positional[p.Name] && !strings.Contains(help, "  "+cliName(p.Name)+"\n") {
				t.Errorf("bgtask %s has no flag %s for %s's %s:\n%s", cmd, cliName(p.Name), tool.Name, p.Name, help)
			}
		}
	}
}

// bgtask run takes every bg_run parameter as a flag, and each does what
// the parameter does.
func TestRunFlagsInATerminal(t *testing.T) {
	t.Parallel()
	a := toolboxtest.NewApp(t)
	dir := t.TempDir()
	// --interactive, --wait-for, --cwd, --timeout, --notify, --label,
	// --wait-seconds; the id alone on stdout comes first.
	out, code := ptyCLI(t, a, "run", "--label", "repl", "--cwd", dir, "--timeout", "7", "--notify", "never", "--interactive",
		"--wait-for", "ready", "--wait-seconds", "30", "--", "echo ready; read x; echo got $x; pwd")
	id, _, _ := strings.Cut(out, "\n")
	if code != 0 || taskid.ValidID(id) != nil || !strings.Contains(out, "repl is ready: ready") {
		t.Fatalf("run: exit %d\n%s", code, out)
	}
	task, err := a.Store.Load(id)
	if err != nil {
		t.Fatal(err)
	}
	if task.Label != "repl" || task.Cwd != dir || task.Timeout != 7*time.Minute || task.Notify != "never" || !task.Interactive {
		t.Fatalf("recorded %+v", task)
	}
	// bg_send's parameters: the text after the id, --enter by default.
	// Its answer says how a person reads the reply, not an agent's call.
	if out, code := ptyCLI(t, a, "send", "repl", "hello"); code != 0 || !strings.Contains(out, "Typed 6 bytes into repl. Its answer: bgtask logs repl -n 20") || strings.Contains(out, "bg_output") {
		t.Fatalf("send: exit %d\n%s", code, out)
	}
	tasktest.WaitEnd(t, a.Store, id)
	// Flags and arguments mix freely; --stream, -n.
	if out, code := ptyCLI(t, a, "logs", "--stream", "stdout", "repl", "-n", "2"); code != 0 || !strings.HasSuffix(out, "got hello\n"+dir+"\n") {
		t.Fatalf("logs --stream stdout repl -n 2: exit %d\n%q", code, out)
	}

	// --wait-port and --wait-url, then a duplicate label: the advice
	// names the flag a person types (--replace), and --replace works.
	addr, port := tasktest.FreeAddr(t)
	serve := helpers.Shell("serve", addr, "0s")
	out, code = ptyCLI(t, a, "run", "--label", "web", "--wait-port", fmt.Sprint(port), "--", serve)
	if code != 0 || !strings.Contains(out, fmt.Sprintf("web is ready: listening on port %d", port)) {
		t.Fatalf("--wait-port: exit %d\n%s", code, out)
	}
	first, _, _ := strings.Cut(out, "\n")
	out, code = ptyCLI(t, a, "run", "--label", "web", "--wait-url", "http://"+addr+"/", "--", serve)
	if code != 1 || !strings.Contains(out, "add --replace to stop it") || strings.Contains(out, "replace=true") {
		t.Fatalf("a duplicate: exit %d\n%s", code, out)
	}
	out, code = ptyCLI(t, a, "run", "--label", "web", "--replace", "--wait-url", "http://"+addr+"/", "--", serve)
	if code != 0 || !strings.Contains(out, "web is ready: HTTP 200") {
		t.Fatalf("--replace --wait-url: exit %d\n%s", code, out)
	}
	if old := tasktest.WaitEnd(t, a.Store, first); old.Status != supervisor.StatusKilled {
		t.Fatalf("the replaced server ended %s", old.Status)
	}
	// ls: the live CPU, memory and ports bg_status has, a local start
	// time, and no label repeated from the id.
	if out, code := ptyCLI(t, a, "run", "--", "true"); code != 0 {
		t.Fatalf("run without a label: exit %d\n%s", code, out)
	}
	ls, _ := ptyCLI(t, a, "ls")
	row := ""
	for _, l := range strings.Split(ls, "\n") {
		if strings.Contains(l, " web ") && strings.Contains(l, "running") {
			row = l // Not the replaced one's, killed: it started in the same second.
		}
	}
	if !strings.Contains(ls, "STARTED") || !strings.Contains(ls, "CPU") || !strings.Contains(ls, "MEM") || !strings.Contains(ls, "PORTS") ||
		!strings.Contains(row, " MB ") || !strings.Contains(row, "% ") || !strings.Contains(row, fmt.Sprintf(" %d ", port)) {
		t.Fatalf("ls:\n%s", ls)
	}
	unlabeled := 0
	for _, l := range strings.Split(ls, "\n") {
		if f := strings.Fields(l); len(f) > 1 && taskid.ValidID(f[0]) == nil && f[1] != "repl" && f[1] != "web" {
			unlabeled++
			if f[1] == f[0] {
				t.Fatalf("the id repeated as the label:\n%s", ls)
			}
		}
	}
	if unlabeled != 1 {
		t.Fatalf("%d unlabeled rows:\n%s", unlabeled, ls)
	}
	// A bad value is refused by its flag, with the parameter's check.
	out, code = ptyCLI(t, a, "run", "--wait-port", "70000", "--", "true")
	if code != 1 || !strings.Contains(out, "-wait-port: must be at most 65535") {
		t.Fatalf("--wait-port 70000: exit %d\n%s", code, out)
	}
	// --wait-seconds alone waits for the end; a failure is exit 1.
	out, code = ptyCLI(t, a, "run", "--wait-seconds", "60", "--", "echo 'error: boom'; exit 3")
	if code != 1 || !strings.Contains(out, "error: boom") || !strings.Contains(out, "ended (failed, exit 3)") {
		t.Fatalf("--wait-seconds: exit %d\n%s", code, out)
	}
	if out, code := ptyCLI(t, a, "stop", "web"); code != 0 || !strings.Contains(out, "Stopped web") {
		t.Fatalf("stop web: exit %d\n%s", code, out)
	}
}

// Restart replaces the task under its label and counts; stop --all and
// rm --all act on every task; after the README's demo no row is left.
func TestRestartAndBulkInATerminal(t *testing.T) {
	t.Parallel()
	a := toolboxtest.NewApp(t)
	for _, label := range []string{"hello", "one", "two"} {
		if out, code := ptyCLI(t, a, "run", "--label", label, "--", helpers.Shell("hang")); code != 0 {
			t.Fatalf("run %s: exit %d\n%s", label, code, out)
		}
	}
	for i := 1; i <= 2; i++ {
		if out, code := ptyCLI(t, a, "restart", "hello"); code != 0 || !strings.Contains(out, fmt.Sprintf("restart %d", i)) {
			t.Fatalf("restart %d: exit %d\n%s", i, code, out)
		}
	}
	ls, _ := ptyCLI(t, a, "ls")
	if strings.Count(ls, "hello") != 1 || !strings.Contains(ls, "hello (restarted 2)") || !strings.Contains(ls, "3 task(s), 3 running") {
		t.Fatalf("ls after two restarts:\n%s", ls)
	}
	if st, _ := ptyCLI(t, a, "status", "hello"); !strings.Contains(st, "restarts:   2") {
		t.Fatalf("status hello:\n%s", st)
	}
	out, code := ptyCLI(t, a, "stop", "--all")
	if code != 0 || strings.Count(out, "Stopped ") != 3 {
		t.Fatalf("stop --all: exit %d\n%s", code, out)
	}
	// The README's demo, on a finished task: no hello row is left.
	for _, args := range [][]string{{"restart", "hello"}, {"stop", "hello"}, {"rm", "hello"}} {
		if out, code := ptyCLI(t, a, args...); code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, code, out)
		}
	}
	if ls, _ := ptyCLI(t, a, "ls"); strings.Contains(ls, "hello") || !strings.Contains(ls, "2 task(s), 0 running") {
		t.Fatalf("ls after restart, stop, rm:\n%s", ls)
	}
	out, code = ptyCLI(t, a, "rm", "--all")
	if code != 0 || !strings.Contains(out, "Removed 2 finished task(s)") {
		t.Fatalf("rm --all: exit %d\n%s", code, out)
	}
	if ls, _ := ptyCLI(t, a, "status"); !strings.Contains(ls, "0 task(s), 0 running") {
		t.Fatalf("status without a task after rm --all:\n%s", ls)
	}
	// A task that does not exist is said so plainly.
	if out, code := ptyCLI(t, a, "status", "task-1-nosuch"); code != 1 || !strings.Contains(out, `no task has the id or label "task-1-nosuch"`) || strings.Contains(out, "task_id:") {
		t.Fatalf("status task-1-nosuch: exit %d\n%s", code, out)
	}
}

// On a terminal, logs print the lines the program's screen kept: no
// cursor moves or clears reach the reader's terminal (Vite clears with 48
// newlines, home and erase-below), colours stay; --raw is byte-exact.
func TestLogsOnATerminal(t *testing.T) {
	t.Parallel()
	a := toolboxtest.NewApp(t)
	script := `for i in $(seq 48); do echo; done; printf '\033[1;1H\033[0J'; ` +
		`printf '  \033[32mVITE\033[39m ready\n'; printf '50%%\r\033[2K100%%\n'; echo 'error: boom' >&2; exit 3`
	r := toolboxtest.StartTask(t, a, map[string]any{"command": script, "label": "web"})
	tasktest.WaitEnd(t, a.Store, r.TaskID)
	out, code := ptyCLI(t, a, "logs", "web", "-f")
	if code != 0 || notSGR.MatchString(out) || strings.Count(out, "\n") != 4 ||
		!strings.Contains(out, "  \x1b[32mVITE\x1b[39m ready\n100%\n") || !strings.Contains(out, "error: boom\n") {
		t.Fatalf("logs -f on a terminal: exit %d\n%q", code, out)
	}
	// The end line colours the status alone.
	if !strings.Contains(out, "[web ended: "+sgrRed+"failed"+sgrReset+", exit 3]") {
		t.Fatalf("end line: %q", out)
	}
	out, code = ptyCLI(t, a, "logs", "--raw", "web", "--stream", "stdout")
	if code != 0 || !strings.Contains(out, strings.Repeat("\n", 48)+"\x1b[1;1H\x1b[0J") || !strings.Contains(out, "50%\r\x1b[2K100%") {
		t.Fatalf("--raw: exit %d\n%q", code, out)
	}
	// -n's help says what it does, once, with no default of -1.
	if help, _ := ptyCLI(t, a, "logs", "--help"); strings.Contains(help, "-1") || strings.Contains(help, "(default: all") {
		t.Fatalf("logs --help:\n%s", help)
	}
}

// notSGR matches any escape sequence but a colour (SGR) one.
var notSGR = regexp.MustCompile(`\x1b(\[[0-9;:?<=>]*[^0-9;:?<=>m]|[^\[])`)
