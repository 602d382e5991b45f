//go:build linux

package callserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/callsock"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/helperproc"
)

// These tests speak to a real server on a real socket, as bgtask-call
// does; the handler stands in for the tools (cmd/bgtask-call's tests run
// the real ones). The test binary also plays a client in another
// process context (see helpers).

func TestMain(m *testing.M) {
	helpers.Register("call", callHelper)
	helpers.Register("hang", helperproc.Hang)
	helpers.Main(m)
}

var helpers helperproc.Registry

// callHelper ADDR ARGS... calls the server at ADDR with ARGS on its own
// stdio, as bgtask-call does, and prints how it went: "taken N" or
// "refused: why".
func callHelper(args []string) int {
	fd, err := callsock.Dial(args[0])
	if err != nil {
		fmt.Println("dial:", err)
		return 1
	}
	if err := callsock.Send(fd, callsock.Request{Args: args[1:], Wd: "/"}, [3]int{0, 1, 2}); err != nil {
		fmt.Println("send:", err)
		return 1
	}
	code, taken, err := callsock.Answer(fd)
	var refused *callsock.RefusedError
	switch {
	case errors.As(err, &refused):
		fmt.Println("refused:", refused.Why)
	case taken && err == nil:
		fmt.Println("taken", code)
	default:
		fmt.Println("lost:", err)
	}
	return 0
}

// serve starts Serve for a file of its own (its address) with h, and
// returns the address and what Serve returned, once it returns.
func serve(t *testing.T, idle time.Duration, h func(context.Context, Call) int) (string, <-chan error) {
	t.Helper()
	return serveWith(t, Options{Idle: idle, Handle: h})
}

// serveWith is serve with all of Options.
func serveWith(t *testing.T, o Options) (string, <-chan error) {
	t.Helper()
	exe := filepath.Join(t.TempDir(), "bgtask-tool")
	if err := os.WriteFile(exe, []byte("a build"), 0o755); err != nil {
		t.Fatal(err)
	}
	addr, err := callsock.Address(exe)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	ended := make(chan struct{})
	go func() {
		done <- Serve(ctx, exe, o)
		close(ended)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-ended:
		case <-time.After(30 * time.Second):
			t.Error("Serve did not return after its context ended")
		}
	})
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := callsock.Probe(addr); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the server does not listen")
		}
	}
	return addr, done
}

// call sends args with three pipes as stdio and returns the exit code
// and what the server wrote to the stdout and stderr pipes.
func call(t *testing.T, addr string, args ...string) (code int, stdout, stderr string, err error) {
	t.Helper()
	var ends [3][2]*os.File
	for i := range ends {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		ends[i] = [2]*os.File{r, w}
	}
	_ = ends[0][1].Close() // stdin: empty.
	// Errors are returned, not fatal: calls are also made from goroutines.
	fd, err := callsock.Dial(addr)
	if err != nil {
		return 0, "", "", err
	}
	defer syscall.Close(fd)
	err = callsock.Send(fd, callsock.Request{Args: args, Environ: []string{"A=1"}, Wd: "/"},
		[3]int{int(ends[0][0].Fd()), int(ends[1][1].Fd()), int(ends[2][1].Fd())})
	if err != nil {
		return 0, "", "", err
	}
	for _, f := range []*os.File{ends[0][0], ends[1][1], ends[2][1]} {
		_ = f.Close() // The server has its copies.
	}
	code, taken, err := callsock.Answer(fd)
	if err == nil && !taken {
		err = errors.New("not taken")
	}
	out, _ := io.ReadAll(ends[1][0]) // EOF once the server closed its copy.
	errOut, _ := io.ReadAll(ends[2][0])
	return code, string(out), string(errOut), err
}

func TestACallRunsOnTheCallersDescriptors(t *testing.T) {
	t.Parallel()
	addr, _ := serve(t, time.Minute, func(_ context.Context, c Call) int {
		in, _ := io.ReadAll(c.Stdin)
		_, _ = io.WriteString(c.Stdout, "out "+strings.Join(c.Args, " ")+" "+strings.Join(c.Environ, " ")+" in="+string(in))
		_, _ = io.WriteString(c.Stderr, "err "+c.Wd)
		return 3
	})
	code, out, errOut, err := call(t, addr, "bg-status")
	if err != nil || code != 3 || out != "out bg-status A=1 in=" || errOut != "err /" {
		t.Errorf("call: exit %d, stdout %q, stderr %q, %v", code, out, errOut, err)
	}
}

// The housekeeping after a call waits for its caller to go (its end of
// the connection closes as it exits), so as not to slow the exit; a
// caller that stays connected delays it by LeaveWait, no more.
func TestHousekeepingWaitsForTheCallerToGo(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name  string
		wait  time.Duration
		close bool // the caller closes its end once answered
	}{
		{"a caller that goes", time.Hour, true},
		{"a caller that stays", 10 * time.Millisecond, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			after := make(chan struct{}, 1)
			addr, _ := serveWith(t, Options{Idle: time.Minute, LeaveWait: c.wait,
				Handle:    func(context.Context, Call) int { return 0 },
				AfterCall: func() { after <- struct{}{} },
			})
			fd, err := callsock.Dial(addr)
			if err != nil {
				t.Fatal(err)
			}
			defer syscall.Close(fd)
			if err := callsock.Send(fd, callsock.Request{Args: []string{"bg-status"}, Wd: "/"}, [3]int{0, 1, 2}); err != nil {
				t.Fatal(err)
			}
			if _, taken, err := callsock.Answer(fd); !taken || err != nil {
				t.Fatalf("the call was not answered: taken %v, %v", taken, err)
			}
			if c.close {
				select {
				case <-after:
					t.Fatal("the housekeeping ran while the answered caller was still connected")
				case <-time.After(50 * time.Millisecond):
				}
				syscall.Close(fd)
			}
			select {
			case <-after:
			case <-time.After(30 * time.Second):
				t.Fatal("the housekeeping never ran")
			}
		})
	}
}

// What the server does not answer is refused, so that the client runs
// it itself, and the handler never sees it.
func TestTheServerAnswersOnlyRoutedCalls(t *testing.T) {
	t.Parallel()
	var handled atomic.Int32
	addr, _ := serve(t, time.Minute, func(context.Context, Call) int { handled.Add(1); return 0 })
	for _, args := range [][]string{{"bg-run", "__supervise", "a", "b"}, {"bgtask-tool", "status"}} {
		_, _, _, err := call(t, addr, args...)
		var refused *callsock.RefusedError
		if !errors.As(err, &refused) || !strings.Contains(refused.Why, "is not a call this server answers") {
			t.Errorf("%q: %v, want a refusal", args, err)
		}
	}
	if n := handled.Load(); n != 0 {
		t.Errorf("the handler ran %d times", n)
	}
}

// A call that panics ends with exit code 2 and a message; the server
// answers the next call.
func TestAPanicEndsOnlyItsCall(t *testing.T) {
	t.Parallel()
	addr, _ := serve(t, time.Minute, func(_ context.Context, c Call) int {
		if c.Args[0] == "bg-stop" {
			panic("boom")
		}
		return 0
	})
	if code, _, errOut, err := call(t, addr, "bg-stop"); err != nil || code != 2 || !strings.Contains(errOut, "internal error: boom") {
		t.Errorf("a panicking call: exit %d, stderr %q, %v", code, errOut, err)
	}
	if code, _, _, err := call(t, addr, "bg-status"); err != nil || code != 0 {
		t.Errorf("the call after it: exit %d, %v", code, err)
	}
}

// A server ends once idle, not while a call is in flight, and a second
// server for the same build is refused.
func TestIdleEndsTheServerBetweenCalls(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	addr, done := serve(t, time.Second, func(ctx context.Context, c Call) int {
		if c.Args[0] == "bg-output" {
			<-release
		}
		return 0
	})
	answered := make(chan error, 1)
	go func() {
		code, _, _, err := call(t, addr, "bg-output")
		if err == nil && code != 0 {
			err = fmt.Errorf("exit %d", code)
		}
		answered <- err
	}()
	time.Sleep(3 * time.Second) // Untimed: three idle periods pass with the call in flight.
	if _, err := callsock.Probe(addr); err != nil {
		t.Fatalf("with a call in flight for three idle periods, the server no longer listens: %v", err)
	}
	if code, _, _, err := call(t, addr, "bg-status"); err != nil || code != 0 {
		t.Errorf("a call beside the long one: exit %d, %v", code, err)
	}
	close(release)
	if err := <-answered; err != nil {
		t.Errorf("the long call: %v", err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve returned %v when idle", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the server still runs 30 s after its last call (idle 1 s)")
	}
}

// Probes (is a server up, whose?) are no calls: a server probed again and
// again still ends when idle. One stayed up for hours while the tests of
// --uninstall probed every server on the machine.
func TestProbesDoNotKeepTheServerUp(t *testing.T) {
	t.Parallel()
	addr, done := serve(t, 500*time.Millisecond, func(context.Context, Call) int { return 0 })
	deadline := time.After(30 * time.Second)
	for {
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve returned %v when idle", err)
			}
			return
		case <-deadline:
			t.Fatal("the server still runs 30 s on (idle 500 ms), probed every 100 ms")
		case <-time.After(100 * time.Millisecond):
			_, _ = callsock.Probe(addr) // Best effort: refused once it has ended.
		}
	}
}

func TestASecondServerIsRefused(t *testing.T) {
	t.Parallel()
	exe := filepath.Join(t.TempDir(), "bgtask-tool")
	if err := os.WriteFile(exe, []byte("a build"), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first := make(chan error, 1)
	go func() { first <- Serve(ctx, exe, Options{Handle: func(context.Context, Call) int { return 0 }}) }()
	addr, _ := callsock.Address(exe)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := callsock.Probe(addr); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first server does not listen")
		}
	}
	if err := Serve(ctx, exe, Options{Handle: func(context.Context, Call) int { return 0 }}); !errors.Is(err, ErrRunning) {
		t.Errorf("a second Serve for the same build: %v, want ErrRunning", err)
	}
	cancel()
	if err := <-first; err != nil {
		t.Errorf("the first Serve returned %v when its context ended", err)
	}
}

// A caller whose process context is not the server's is refused, and
// told why, whatever address it dialled (a client in another context
// computes another address: these callers dial the server's own). A
// caller under no_new_privs (a sandbox, as Landlock's) is refused even
// though /proc shows nothing else of its sandbox.
func TestACallerOfAnotherContextIsRefused(t *testing.T) {
	t.Parallel()
	var handled atomic.Int32
	addr, _ := serve(t, time.Minute, func(context.Context, Call) int { handled.Add(1); return 0 })
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		wrap []string
		want string
	}{
		{nil, "taken 0"},
		{[]string{"nice", "-n", "7"}, "refused: the caller runs with another nice than the server"},
		{[]string{"setpriv", "--no-new-privs"}, "refused: the caller runs under no_new_privs (as Landlock needs), which the server cannot match"},
	} {
		if len(tc.wrap) > 0 {
			if _, err := exec.LookPath(tc.wrap[0]); err != nil {
				t.Logf("skipping the caller run with %s: not installed (Debian package util-linux or coreutils)", tc.wrap[0])
				continue
			}
		}
		argv := append(append(tc.wrap, exe), addr, "bg-status")
		c := exec.Command(argv[0], argv[1:]...)
		c.Env = append(os.Environ(), helpers.EnvFor("call"))
		out, err := c.Output()
		if err != nil {
			t.Fatalf("%q: %v (%s)", argv[:len(tc.wrap)], err, out)
		}
		if got := strings.TrimSpace(string(out)); got != tc.want {
			t.Errorf("a caller run with %q: %q, want %q", tc.wrap, got, tc.want)
		}
	}
	if n := handled.Load(); n != 1 { // The nice and setpriv callers never reach it.
		t.Errorf("the handler ran %d times, want once (the caller of the server's own context)", n)
	}
}

// A listening server is found by callsock.Listening (as --uninstall
// finds them), for any user: the address and the listing agree on how
// they write the uid.
func TestAServerIsListed(t *testing.T) {
	t.Parallel()
	addr, _ := serve(t, time.Minute, func(context.Context, Call) int { return 0 })
	addrs, err := callsock.Listening()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(addrs, addr) {
		t.Errorf("Listening() = %q, without the server at %q", addrs, addr)
	}
}
