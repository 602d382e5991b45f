package notify

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
)

// The D-Bus tests run a real dbus-daemon per test and a notification server
// written with godbus on it, in this process. No helper process is needed
// because notify never uses godbus's process-wide SessionBus (cached per
// process, and found from the process environment): it opens a private
// connection to the bus named in Notifier.Env, so each test reaches its own
// bus, and tests do not touch the process environment (except
// TestDesktopNeverAutolaunches, which is about exactly that).
//
// The daemon runs with a configuration of its own rather than the system's
// session.conf: it listens on a socket in the test's directory and has no
// service directories, so nothing is ever activated, and "nobody owns
// org.freedesktop.Notifications" stays true on a desktop that has a
// notification daemon installed.

const busConfig = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=SOCKET</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`

// startBus starts a dbus-daemon listening on dir/bus, ends it when the test
// ends, and returns its address and dir (an XDG_RUNTIME_DIR for it).
func startBus(t *testing.T) (addr, dir string) {
	t.Helper()
	exe, err := exec.LookPath("dbus-daemon")
	if err != nil {
		t.Skip("dbus-daemon not found: install the Debian package dbus-daemon to run the D-Bus tests")
	}
	dir = t.TempDir()
	sock := filepath.Join(dir, "bus")
	if len(sock) >= 104 { // sun_path is 108 bytes on Linux, 104 elsewhere.
		t.Fatalf("socket path %s too long for a Unix socket", sock)
	}
	config := filepath.Join(dir, "bus.conf")
	if err := os.WriteFile(config, []byte(strings.Replace(busConfig, "SOCKET", sock, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "--config-file="+config, "--nofork", "--print-address=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill() // Best effort: it may have died already, Wait says.
		_ = cmd.Wait()
	})
	// The daemon prints its address once it listens: reading it is the
	// readiness check.
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- strings.TrimSpace(s)
	}()
	select {
	case addr = <-line:
	case <-time.After(10 * time.Second):
		t.Fatalf("dbus-daemon printed no address within 10s; stderr: %s", stderr.String())
	}
	if addr == "" {
		t.Fatalf("dbus-daemon exited without an address; stderr: %s", stderr.String())
	}
	return addr, dir
}

type notification struct {
	App, Icon, Summary, Body string
	Hints                    map[string]dbus.Variant
	Expire                   int32
}

// notificationServer is the org.freedesktop.Notifications interface as a
// notification daemon implements it, recording what it is asked to show.
type notificationServer struct {
	caps []string
	hang chan struct{} // When not nil, Notify answers only once it is closed.

	mu    sync.Mutex
	shown []notification
}

func (s *notificationServer) Notify(app string, replaces uint32, icon, summary, body string,
	actions []string, hints map[string]dbus.Variant, expire int32) (uint32, *dbus.Error) {
	if s.hang != nil {
		<-s.hang
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.shown = append(s.shown, notification{app, icon, summary, body, hints, expire})
	return uint32(len(s.shown)), nil
}

func (s *notificationServer) GetCapabilities() ([]string, *dbus.Error) {
	return s.caps, nil
}

func (s *notificationServer) GetServerInformation() (name, vendor, version, spec string, err *dbus.Error) {
	return "notify-test", "amp-bg-tasks", "1", "1.2", nil
}

func (s *notificationServer) notifications() []notification {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]notification(nil), s.shown...)
}

// serve puts s on the bus at addr under the well-known name.
func serve(t *testing.T, addr string, s *notificationServer) {
	t.Helper()
	conn, err := dbus.Connect(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() }) // Best effort: the daemon goes next.
	if s.hang != nil {
		t.Cleanup(func() { close(s.hang) }) // Runs first: frees the handlers.
	}
	if err := conn.Export(s, notificationsPath, notificationsIface); err != nil {
		t.Fatal(err)
	}
	reply, err := conn.RequestName(notificationsName, dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("RequestName(%s) = %v, %v", notificationsName, reply, err)
	}
}

func TestDesktopFailedTask(t *testing.T) {
	addr, _ := startBus(t)
	srv := &notificationServer{caps: []string{"body", "actions"}}
	serve(t, addr, srv)

	n := &Notifier{Env: []string{"DBUS_SESSION_BUS_ADDRESS=" + addr}}
	sent, err := n.Notify(context.Background(), Event{
		TaskID: "k3x9", Label: "tests", Command: "go test ./...", Status: "failed",
		ExitCode: intp(1), Duration: 83 * time.Second, LastLine: "FAIL\tgithub.com/x/y\t0.3s",
	})
	if !sent || err != nil {
		t.Fatalf("Notify = %v, %v; want true, nil", sent, err)
	}
	got := srv.notifications()
	if len(got) != 1 {
		t.Fatalf("server got %d notifications, want 1: %+v", len(got), got)
	}
	want := notification{
		App:     "amp-bg-tasks",
		Icon:    "dialog-error",
		Summary: "✗ tests failed (exit 1)",
		Body:    "$ go test ./...\nran for 1m23s\nlast line: FAIL github.com/x/y 0.3s",
		Expire:  -1,
	}
	g := got[0]
	if g.App != want.App || g.Icon != want.Icon || g.Summary != want.Summary || g.Body != want.Body || g.Expire != want.Expire {
		t.Errorf("server got\n%+v\nwant\n%+v", g, want)
	}
	if u, ok := g.Hints["urgency"].Value().(byte); !ok || u != 1 {
		t.Errorf("urgency hint = %v, want byte 1 (normal)", g.Hints["urgency"])
	}
}

func TestDesktopModes(t *testing.T) {
	addr, _ := startBus(t)
	srv := &notificationServer{caps: []string{"body"}}
	serve(t, addr, srv)
	env := []string{"DBUS_SESSION_BUS_ADDRESS=" + addr}

	for _, tt := range []struct {
		mode        Mode
		ev          Event
		wantSummary string // "" for nothing sent.
	}{
		{ModeFailure, Event{Label: "build", Status: "completed", ExitCode: intp(0)}, ""},
		{ModeFailure, Event{Label: "srv", Status: "killed"}, ""},
		{ModeNever, Event{Label: "tests", Status: "failed", ExitCode: intp(2)}, ""},
		{ModeNever, Event{Label: "dev", Status: "timeout", Timeout: time.Minute}, ""},
		{ModeFailure, Event{Label: "dev-server", Status: "timeout", Timeout: 120 * time.Minute}, "⏱ dev-server timed out after 120m"},
		{ModeFailure, Event{Label: "old", Status: "reaped"}, "✗ old reaped (orphaned or too old)"},
		{ModeAlways, Event{Label: "build", Status: "completed", ExitCode: intp(0)}, "✓ build completed"},
	} {
		before := len(srv.notifications())
		sent, err := (&Notifier{Mode: tt.mode, Env: env}).Notify(context.Background(), tt.ev)
		if err != nil || sent != (tt.wantSummary != "") {
			t.Errorf("mode %q, %s: Notify = %v, %v", tt.mode, tt.ev.Status, sent, err)
		}
		got := srv.notifications()[before:]
		switch {
		case tt.wantSummary == "" && len(got) != 0:
			t.Errorf("mode %q, %s: server got %+v, want nothing", tt.mode, tt.ev.Status, got)
		case tt.wantSummary != "" && (len(got) != 1 || got[0].Summary != tt.wantSummary):
			t.Errorf("mode %q, %s: server got %+v, want one with summary %q", tt.mode, tt.ev.Status, got, tt.wantSummary)
		}
	}
}

func TestDesktopBodyMarkup(t *testing.T) {
	addr, _ := startBus(t)
	srv := &notificationServer{caps: []string{"body", "body-markup"}}
	serve(t, addr, srv)

	n := &Notifier{Env: []string{"DBUS_SESSION_BUS_ADDRESS=" + addr}}
	_, err := n.Notify(context.Background(), Event{Label: "cmp", Status: "failed",
		Command: "test 1 < 2 && echo <ok>", LastLine: "bad \xff byte"})
	if err != nil {
		t.Fatal(err)
	}
	got := srv.notifications()
	want := "$ test 1 &lt; 2 &amp;&amp; echo &lt;ok&gt;\nlast line: bad \uFFFD byte"
	if len(got) != 1 || got[0].Body != want {
		t.Errorf("server got %+v, want one with body %q", got, want)
	}
}

func TestDesktopXDGRuntimeDir(t *testing.T) {
	_, dir := startBus(t)
	srv := &notificationServer{}
	serve(t, "unix:path="+filepath.Join(dir, "bus"), srv)

	n := &Notifier{Env: []string{"XDG_RUNTIME_DIR=" + dir}}
	if sent, err := n.Notify(context.Background(), Event{Label: "t", Status: "failed"}); !sent || err != nil {
		t.Fatalf("Notify = %v, %v; want true, nil", sent, err)
	}
	if got := srv.notifications(); len(got) != 1 || got[0].Summary != "✗ t failed" {
		t.Errorf("server got %+v", got)
	}
}

// notifyBounded calls Notify and checks it came back with an error within
// a generous limit (the box may be loaded: the limit catches hangs, not
// slowness).
func notifyBounded(t *testing.T, n *Notifier) error {
	t.Helper()
	start := time.Now()
	sent, err := n.Notify(context.Background(), Event{Label: "t", Status: "failed", ExitCode: intp(1)})
	elapsed := time.Since(start)
	t.Logf("Notify returned after %v: %v", elapsed, err)
	if sent || err == nil {
		t.Errorf("Notify = %v, %v; want false and an error", sent, err)
	}
	if elapsed > 10*time.Second {
		t.Errorf("Notify took %v", elapsed)
	}
	return err
}

func TestDesktopNoBus(t *testing.T) {
	for name, env := range map[string][]string{
		"empty environment":        {},
		"runtime dir without bus":  {"XDG_RUNTIME_DIR=" + t.TempDir()},
		"autolaunch address":       {"DBUS_SESSION_BUS_ADDRESS=autolaunch:"},
		"empty address":            {"DBUS_SESSION_BUS_ADDRESS="},
		"address of no one":        {"DBUS_SESSION_BUS_ADDRESS=unix:path=" + filepath.Join(t.TempDir(), "gone")},
		"runtime dir, file no bus": {"XDG_RUNTIME_DIR=" + fileNamedBus(t)},
	} {
		t.Run(name, func(t *testing.T) {
			err := notifyBounded(t, &Notifier{Env: env})
			if !strings.HasPrefix(err.Error(), "desktop notification: ") {
				t.Errorf("err = %v, want it to say what was being done", err)
			}
			if name != "address of no one" && !errors.Is(err, ErrNoSessionBus) {
				t.Errorf("err = %v, want ErrNoSessionBus", err)
			}
		})
	}
}

func fileNamedBus(t *testing.T) string {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "bus"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestDesktopNeverAutolaunches runs with the process environment and a
// PATH where dbus-launch, notify-send and kdialog would each leave a mark:
// with no bus, nothing may be started (godbus's SessionBus would run
// dbus-launch, and beeep notify-send, which then outlive the supervisor).
func TestDesktopNeverAutolaunches(t *testing.T) {
	bin, marks := t.TempDir(), t.TempDir()
	for _, name := range []string{"dbus-launch", "notify-send", "kdialog"} {
		script := "#!/bin/sh\ntouch " + filepath.Join(marks, name) + "\n"
		if err := os.WriteFile(filepath.Join(bin, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", bin)
	t.Setenv("DISPLAY", ":0")
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "")
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())

	if err := notifyBounded(t, &Notifier{}); !errors.Is(err, ErrNoSessionBus) {
		t.Errorf("err = %v, want ErrNoSessionBus", err)
	}
	started, err := os.ReadDir(marks)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range started {
		t.Errorf("%s was started", m.Name())
	}
}

func TestDesktopNobodyOwnsNotifications(t *testing.T) {
	addr, _ := startBus(t)
	err := notifyBounded(t, &Notifier{Env: []string{"DBUS_SESSION_BUS_ADDRESS=" + addr}})
	if !strings.Contains(err.Error(), "org.freedesktop.Notifications") {
		t.Errorf("err = %v, want it to name org.freedesktop.Notifications", err)
	}
}

func TestDesktopServerNeverAnswers(t *testing.T) {
	addr, _ := startBus(t)
	srv := &notificationServer{hang: make(chan struct{})}
	serve(t, addr, srv)
	err := notifyBounded(t, &Notifier{Env: []string{"DBUS_SESSION_BUS_ADDRESS=" + addr}, Timeout: 500 * time.Millisecond})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want context.DeadlineExceeded", err)
	}
}

// TestDesktopBusNeverAnswers listens on a socket that accepts connections
// and never speaks: authentication must not hold Notify past its timeout.
func TestDesktopBusNeverAnswers(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "bus")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() }) // Best effort.
	var held []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			_ = c.Close() // Best effort.
		}
	})
	err = notifyBounded(t, &Notifier{Env: []string{"DBUS_SESSION_BUS_ADDRESS=unix:path=" + sock}, Timeout: 500 * time.Millisecond})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want context.DeadlineExceeded", err)
	}
}

func TestDesktopAndHook(t *testing.T) {
	addr, _ := startBus(t)
	srv := &notificationServer{}
	serve(t, addr, srv)
	out := filepath.Join(t.TempDir(), "hook")
	n := &Notifier{
		Command: `printf '%s' "$BG_NOTIFY_TITLE" > "$OUT"`,
		Env:     []string{"DBUS_SESSION_BUS_ADDRESS=" + addr, "PATH=" + os.Getenv("PATH"), "OUT=" + out},
	}
	if sent, err := n.Notify(context.Background(), Event{Label: "e2e", Status: "reaped"}); !sent || err != nil {
		t.Fatalf("Notify = %v, %v; want true, nil", sent, err)
	}
	want := "✗ e2e reaped (orphaned or too old)"
	if got := srv.notifications(); len(got) != 1 || got[0].Summary != want {
		t.Errorf("server got %+v", got)
	}
	if b, err := os.ReadFile(out); err != nil || string(b) != want {
		t.Errorf("hook wrote %q, %v; want %q", b, err, want)
	}
}
