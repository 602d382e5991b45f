package procs

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/helperproc"
)

// listenHelper listens on 127.0.0.1 (any free port), prints "port N" and
// waits to be killed: a server holding a port.
func listenHelper([]string) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("port %d\n", l.Addr().(*net.TCPAddr).Port)
	return helperproc.Hang(nil)
}

// A listening socket is found with the process holding it: its pid and
// start, command, folder, user and task marker. A port nobody holds has
// no listener, and a socket that only connects is not one.
func TestListenersOnNameTheHolder(t *testing.T) {
	t.Parallel()
	marker := markerOf(t)
	c := helpers.Command("listen")
	c.Dir = t.TempDir()
	c.Env = append(c.Env, MarkerEnv+"="+marker)
	out, err := c.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Process.Kill(); _ = c.Wait() })
	var port int
	if _, err := fmt.Fscanf(out, "port %d\n", &port); err != nil {
		t.Fatal(err)
	}
	ls, err := ListenersOn(context.Background(), port)
	if err != nil {
		t.Fatal(err)
	}
	if len(ls) != 1 {
		t.Fatalf("%d listeners on %d, want 1: %+v", len(ls), port, ls)
	}
	l := ls[0]
	self, _ := Lookup(context.Background(), c.Process.Pid)
	if l.Proc != self || l.Addr != "127.0.0.1:"+strconv.Itoa(port) || l.Port != port || l.UID != os.Getuid() || l.Marker != marker || l.Cwd != c.Dir {
		t.Errorf("listener %+v; want pid %v, 127.0.0.1:%d, uid %d, marker %s, cwd %s", l, self, port, os.Getuid(), marker, c.Dir)
	}
	if !strings.HasPrefix(l.Command, os.Args[0]) || l.User == "" {
		t.Errorf("command %q, user %q", l.Command, l.User)
	}
	// A client's socket on the same port is not a listener; a port freed
	// has none.
	conn, err := net.Dial("tcp", l.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if ls, _ := ListenersOn(context.Background(), conn.LocalAddr().(*net.TCPAddr).Port); len(ls) != 0 {
		t.Errorf("a connecting socket taken for a listener: %+v", ls)
	}
	_ = c.Process.Kill()
	_ = c.Wait()
	if ls, err := ListenersOn(context.Background(), port); err != nil || len(ls) != 0 {
		t.Errorf("after the holder died: %+v, %v", ls, err)
	}
}

// A holder that cleared the marker from its environment belongs to the
// task of its nearest ancestor that carries one.
func TestListenersOnMarkerOfAncestor(t *testing.T) {
	t.Parallel()
	marker := markerOf(t)
	c := exec.Command("sh", "-c", `env -u `+MarkerEnv+` "$0"; true`, os.Args[0])
	c.Env = append(os.Environ(), helpers.EnvFor("listen"), MarkerEnv+"="+marker)
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := c.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL); _ = c.Wait() })
	var port int
	if _, err := fmt.Fscanf(out, "port %d\n", &port); err != nil {
		t.Fatal(err)
	}
	ls, err := ListenersOn(context.Background(), port)
	if err != nil || len(ls) != 1 || ls[0].Marker != marker || ls[0].Proc.PID == c.Process.Pid {
		t.Fatalf("listeners %+v, %v; want the child of the marked shell, with its marker", ls, err)
	}
}

// BenchmarkListenersOn measures one port lookup (bg_run's check before
// a start with wait_port, bgtask port): the socket tables, then every
// process's open files (go test ./procs -run '^$' -bench ListenersOn).
func BenchmarkListenersOn(b *testing.B) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	for b.Loop() {
		if ls, err := ListenersOn(context.Background(), port); err != nil || len(ls) != 1 {
			b.Fatalf("%v %+v", err, ls)
		}
	}
}
