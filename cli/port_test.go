package cli

import (
	"context"
	"errors"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/tasktest"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/toolboxtest"
	"github.com/amp-bg-tasks/amp-bg-tasks/toolbox"
)

// A foreign server holds a port (Python's http.server, as a sibling
// project would run it): bg_run with wait_port on it is refused at once,
// naming its pid, and the server is not signalled; bgtask port names it.
func TestPortHeldByAnotherProgram(t *testing.T) {
	t.Parallel()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("needs python3 (Debian package python3)")
	}
	addr, port := tasktest.FreeAddr(t)
	dir := t.TempDir()
	srv := exec.Command(py, "-m", "http.server", strconv.Itoa(port), "--bind", "127.0.0.1")
	srv.Dir = dir
	srv.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-srv.Process.Pid, syscall.SIGKILL); _ = srv.Wait() })
	tasktest.WaitFor(t, "http.server to listen", func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			_ = c.Close()
		}
		return err == nil
	})
	pid := strconv.Itoa(srv.Process.Pid)

	a := toolboxtest.NewApp(t)
	start := time.Now()
	_, err = toolbox.Invoke[toolbox.RunResult](context.Background(), a, toolbox.RunTool(),
		map[string]any{"command": "npm run dev", "label": "web", "wait_port": port, "wait_seconds": 60})
	took := time.Since(start)
	var pe *toolbox.PortInUseError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "pid "+pid) || !strings.Contains(err.Error(), "http.server") {
		t.Fatalf("bg_run wait_port=%d: %v; want a refusal naming pid %s", port, err, pid)
	}
	t.Logf("refused in %v: %v", took.Round(time.Millisecond), err)
	if took > 30*time.Second {
		t.Errorf("refused after %v: it waited instead of refusing", took)
	}
	out, errOut, code := runCLI(t, a, "run", "--label", "web", "--wait-port", strconv.Itoa(port), "--", "npm run dev")
	if code != toolbox.ExitError || out != "" || !strings.Contains(errOut, "pid "+pid) {
		t.Errorf("bgtask run --wait-port: exit %d, %q %q", code, out, errOut)
	}
	if tasks, _ := a.Store.List(); len(tasks) != 0 {
		t.Errorf("%d tasks started on a taken port", len(tasks))
	}
	if err := syscall.Kill(srv.Process.Pid, 0); err != nil || srv.ProcessState != nil {
		t.Fatalf("the server was signalled: %v", err)
	}

	// bgtask port N, and the --port its list commands take, say the same.
	for _, args := range [][]string{{"port", strconv.Itoa(port)}, {"ls", "--port", strconv.Itoa(port)}, {"status", "--port", strconv.Itoa(port)}} {
		out, errOut, code = runCLI(t, a, args...)
		if code != toolbox.ExitOK || !strings.Contains(out, pid) || !strings.Contains(out, "http.server") || !strings.Contains(out, dir) || !strings.Contains(errOut, "never signals") {
			t.Errorf("bgtask %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
	}
	out, _, code = runCLI(t, a, "port", strconv.Itoa(port), "--json")
	if code != toolbox.ExitOK || !strings.Contains(out, `"pid": `+pid) || !strings.Contains(out, `"ours": false`) {
		t.Errorf("bgtask port --json: exit %d\n%s", code, out)
	}
	// Our own task on a port is named as ours.
	_ = syscall.Kill(-srv.Process.Pid, syscall.SIGKILL)
	_ = srv.Wait()
	r := toolboxtest.StartTask(t, a, map[string]any{"command": helpers.Shell("serve", addr, "0s"), "label": "api", "wait_port": port})
	out, errOut, code = runCLI(t, a, "port", strconv.Itoa(port))
	if code != toolbox.ExitOK || !strings.Contains(out, "api ("+r.TaskID+")") || !strings.Contains(errOut, "bgtask restart "+r.TaskID) {
		t.Errorf("bgtask port on our task: exit %d\n%s%s", code, out, errOut)
	}
	if _, errOut, code := runCLI(t, a, "port", strconv.Itoa(port+1)); code != toolbox.ExitError || !strings.Contains(errOut, "nothing listens") {
		t.Errorf("a free port: exit %d, %q", code, errOut)
	}
	if _, _, code := runCLI(t, a, "port", "70000"); code != toolbox.ExitError {
		t.Errorf("port 70000: exit %d", code)
	}
}
