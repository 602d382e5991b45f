package notify

import (
	"bufio"
	"bytes"
	"context"
	"encoding/gob"
	"encoding/json"
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

func init() { helpers.Register("sender", sender) }

// The D-Bus tests run a real dbus-daemon per test and a notification server
// written with godbus on it, in this process, and send from a child
// process: the test binary itself, run as a sender (see TestMain). beeep
// reaches the bus through godbus's SessionBus, found from the process
// environment and cached for the life of the process, and names the sender
// with the global beeep.AppName, so each sending test needs a process of
// its own. The child's whole environment is chosen by the test, with a PATH
// holding only fake dbus-launch, notify-send and kdialog that leave a mark
// when started: no test may start any of them. Tests that need no bus, and
// so never reach beeep, run in this process.
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

// fakeDesktopTools are the programs beeep (notify-send, kdialog) and godbus
// (dbus-launch) start when there is no bus or no notification server. In
// the sender's PATH each is a script that leaves a mark and fails.
var fakeDesktopTools = []string{"dbus-launch", "notify-send", "kdialog"}

// runSender makes calls, in order, in a child process whose whole
// environment is env after PATH (only the fake desktop tools), HOME (a
// directory of the test's) and the sender's request, and returns their
// results. It fails the test if the child does not exit cleanly (which
// includes a race it detected) or started any of the fake tools.
func runSender(t *testing.T, env []string, calls ...senderCall) []senderResult {
	t.Helper()
	dir := t.TempDir()
	bin, marks := filepath.Join(dir, "bin"), filepath.Join(dir, "marks")
	for _, d := range []string{bin, marks} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range fakeDesktopTools {
		// Builtins only: PATH holds nothing else.
		script := "#!/bin/sh\n: > '" + filepath.Join(marks, name) + "'\nexit 1\n"
		if err := os.WriteFile(filepath.Join(bin, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var req bytes.Buffer
	if err := gob.NewEncoder(&req).Encode(calls); err != nil {
		t.Fatal(err)
	}
	reqFile := filepath.Join(dir, "calls.gob")
	if err := os.WriteFile(reqFile, req.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}

	// The limit catches a hung sender, not a slow one on a loaded box;
	// CommandContext kills the child, by PID, when it is reached.
	const limit = 60 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := helpers.CommandContext(ctx, "sender", reqFile)
	cmd.Env = append([]string{
		"PATH=" + bin, "HOME=" + dir, helpers.EnvFor("sender"),
		// Under -race the child still exits with an error when it saw a
		// race, but without the race runtime's second of sleep at exit.
		"GORACE=" + strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"),
	}, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second // A grandchild holding the pipes.
	err := cmd.Run()
	switch {
	case ctx.Err() != nil:
		t.Fatalf("sender did not exit within %v; stderr: %s", limit, stderr.String())
	case err != nil:
		t.Fatalf("sender: %v; stderr: %s", err, stderr.String())
	}
	if stderr.Len() > 0 {
		t.Logf("sender's stderr: %s", stderr.String())
	}
	var results []senderResult
	if err := json.Unmarshal(stdout.Bytes(), &results); err != nil || len(results) != len(calls) {
		t.Fatalf("sender printed %q (%v), want %d results", stdout.String(), err, len(calls))
	}
	for i, r := range results {
		t.Logf("call %d: sent %v after %v, err %q", i, r.Sent, r.Elapsed, r.Err)
	}
	started, err := os.ReadDir(marks)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range started {
		t.Errorf("the sender started %s", m.Name())
	}
	return results
}

// sendOne is runSender with one call, which must have succeeded.
func sendOne(t *testing.T, env []string, n Notifier, ev Event) {
	t.Helper()
	r := runSender(t, env, senderCall{n, ev})[0]
	if !r.Sent || r.Err != "" {
		t.Fatalf("Notify = %v, %q; want true, nil", r.Sent, r.Err)
	}
}

// beeepExpire is the expire_timeout beeep sends: its fixed 5 seconds.
const beeepExpire = 5000

func TestDesktopFailedTask(t *testing.T) {
	t.Parallel()
	addr, _ := startBus(t)
	srv := &notificationServer{caps: []string{"body", "actions"}}
	serve(t, addr, srv)

	sendOne(t, []string{"DBUS_SESSION_BUS_ADDRESS=" + addr}, Notifier{Timeout: slowBox}, Event{
		TaskID: "k3x9", Label: "tests", Command: "go test ./...", Status: "failed",
		ExitCode: intp(1), Duration: 83 * time.Second, LastLine: "FAIL\tgithub.com/x/y\t0.3s",
	})
	got := srv.notifications()
	if len(got) != 1 {
		t.Fatalf("server got %d notifications, want 1: %+v", len(got), got)
	}
	want := notification{
		App:     "amp-bg-tasks",
		Icon:    "dialog-error",
		Summary: "✗ tests failed (exit 1)",
		Body:    "$ go test ./...\nran for 1m23s\nlast line: FAIL github.com/x/y 0.3s",
		Expire:  beeepExpire,
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
	t.Parallel()
	addr, _ := startBus(t)
	srv := &notificationServer{caps: []string{"body"}}
	serve(t, addr, srv)

	cases := []struct {
		mode        Mode
		ev          Event
		wantSummary string // "" for nothing sent.
	}{
		{ModeFailure, Event{Label: "build", Status: "completed", ExitCode: intp(0)}, ""},
		{ModeFailure, Event{Label: "srv", Status: "killed"}, ""},
		{ModeNever, Event{Label: "tests", Status: "failed", ExitCode: intp(2)}, ""},
		{ModeNever, Event{Label: "dev", Status: "timeout", Timeout: time.Minute}, ""},
		{ModeFailure, Event{Label: "dev-server", Status: "timeout", Timeout: 120 * time.Minute}, "⏱ dev-server timed out after 2h"},
		{ModeFailure, Event{Label: "old", Status: "reaped"}, "✗ old reaped (orphaned or too old)"},
		{ModeAlways, Event{Label: "build", Status: "completed", ExitCode: intp(0)}, "✓ build completed"},
		{ModeFailure, Event{Label: "srv2", Status: "killed"}, ""}, // Nothing after a sent one either.
	}
	var calls []senderCall
	var want []string
	for _, tt := range cases {
		calls = append(calls, senderCall{Notifier{Mode: tt.mode, Timeout: slowBox}, tt.ev})
		if tt.wantSummary != "" {
			want = append(want, tt.wantSummary)
		}
	}
	// One process for all: its notifications share beeep's connection.
	results := runSender(t, []string{"DBUS_SESSION_BUS_ADDRESS=" + addr}, calls...)
	for i, tt := range cases {
		if r := results[i]; r.Err != "" || r.Sent != (tt.wantSummary != "") {
			t.Errorf("mode %q, %s: Notify = %v, %q", tt.mode, tt.ev.Status, r.Sent, r.Err)
		}
	}
	// Notify returns once the server answered, so the server saw the
	// notifications in the order they were sent.
	var got []string
	for _, n := range srv.notifications() {
		got = append(got, n.Summary)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("server got summaries %q, want %q", got, want)
	}
}

func TestDesktopBodyMarkup(t *testing.T) {
	t.Parallel()
	addr, _ := startBus(t)
	srv := &notificationServer{caps: []string{"body", "body-markup"}}
	serve(t, addr, srv)

	sendOne(t, []string{"DBUS_SESSION_BUS_ADDRESS=" + addr}, Notifier{Mode: ModeAlways, AppName: "my-app", Timeout: slowBox},
		Event{Label: "cmp", Status: "completed", Command: "test 1 < 2 && echo <ok>", LastLine: "bad \xff byte"})
	got := srv.notifications()
	want := "$ test 1 &lt; 2 &amp;&amp; echo &lt;ok&gt;\nlast line: bad \uFFFD byte"
	if len(got) != 1 || got[0].Body != want || got[0].App != "my-app" || got[0].Icon != "dialog-information" {
		t.Errorf("server got %+v, want one from my-app with icon dialog-information and body %q", got, want)
	}
}

// TestDesktopXDGRuntimeDir finds the bus as $XDG_RUNTIME_DIR/bus. godbus
// would not (it looks in /run/user/$UID, then runs dbus-launch): notify
// points it there through the process environment.
func TestDesktopXDGRuntimeDir(t *testing.T) {
	t.Parallel()
	_, dir := startBus(t)
	srv := &notificationServer{}
	serve(t, "unix:path="+filepath.Join(dir, "bus"), srv)

	sendOne(t, []string{"XDG_RUNTIME_DIR=" + dir}, Notifier{Timeout: slowBox}, Event{Label: "t", Status: "failed"})
	if got := srv.notifications(); len(got) != 1 || got[0].Summary != "✗ t failed" {
		t.Errorf("server got %+v", got)
	}
}

// TestDesktopOneBusPerProcess: beeep can only reach the bus the process
// environment names, and only one per process. A Notifier.Env naming
// another is an error, and nothing is sent anywhere.
func TestDesktopOneBusPerProcess(t *testing.T) {
	t.Parallel()
	addrA, _ := startBus(t)
	srvA := &notificationServer{}
	serve(t, addrA, srvA)
	addrB, _ := startBus(t)
	srvB := &notificationServer{}
	serve(t, addrB, srvB)
	ev := Event{Label: "t", Status: "failed"}
	envA := []string{"DBUS_SESSION_BUS_ADDRESS=" + addrA}
	envB := []string{"DBUS_SESSION_BUS_ADDRESS=" + addrB}

	t.Run("process names another bus", func(t *testing.T) {
		before := len(srvA.notifications())
		r := runSender(t, envA,
			senderCall{Notifier{Env: envB, Timeout: slowBox}, ev},
			senderCall{Notifier{Timeout: slowBox}, ev},
		)
		if r[0].Sent || !strings.Contains(r[0].Err, "DBUS_SESSION_BUS_ADDRESS="+addrA) {
			t.Errorf("Env naming B in a process on A: Notify = %v, %q; want an error naming the process's bus", r[0].Sent, r[0].Err)
		}
		if !r[1].Sent || r[1].Err != "" {
			t.Errorf("then with the process's bus: Notify = %v, %q; want true, nil", r[1].Sent, r[1].Err)
		}
		if n := len(srvA.notifications()) - before; n != 1 {
			t.Errorf("bus A got %d notifications, want 1", n)
		}
	})
	t.Run("process names no bus", func(t *testing.T) {
		before := len(srvA.notifications())
		r := runSender(t, []string{"XDG_RUNTIME_DIR=" + t.TempDir()},
			senderCall{Notifier{Env: envA, Timeout: slowBox}, ev}, // Binds the process to A.
			senderCall{Notifier{Env: envB, Timeout: slowBox}, ev},
			senderCall{Notifier{Timeout: slowBox}, ev}, // The process environment now names A.
		)
		if !r[0].Sent || r[0].Err != "" {
			t.Errorf("first, Env naming A: Notify = %v, %q; want true, nil", r[0].Sent, r[0].Err)
		}
		if r[1].Sent || !strings.Contains(r[1].Err, "already sent desktop notifications to "+addrA) {
			t.Errorf("then Env naming B: Notify = %v, %q; want an error naming bus A", r[1].Sent, r[1].Err)
		}
		if !r[2].Sent || r[2].Err != "" {
			t.Errorf("then the process environment: Notify = %v, %q; want true, nil", r[2].Sent, r[2].Err)
		}
		if n := len(srvA.notifications()) - before; n != 2 {
			t.Errorf("bus A got %d notifications, want 2", n)
		}
	})
	if got := srvB.notifications(); len(got) != 0 {
		t.Errorf("bus B got %+v, want nothing", got)
	}
}

// notifyBounded calls Notify in this process and checks it came back with
// an error within a generous limit (the box may be loaded: the limit
// catches hangs, not slowness). Only for cases that never reach beeep.
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

// checkFailedQuickly checks that a sender's call failed within a generous
// limit.
func checkFailedQuickly(t *testing.T, r senderResult) {
	t.Helper()
	if r.Sent || r.Err == "" {
		t.Errorf("Notify = %v, %q; want false and an error", r.Sent, r.Err)
	}
	if r.Elapsed > 10*time.Second {
		t.Errorf("Notify took %v", r.Elapsed)
	}
}

func TestDesktopNoBus(t *testing.T) {
	t.Parallel()
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

// TestDesktopNeverAutolaunches sends from a process with a display and no
// bus, as production does (Notifier.Env nil): godbus's SessionBus would run
// dbus-launch, and beeep notify-send or kdialog, which then outlive the
// supervisor. runSender fails the test if any of them is started.
func TestDesktopNeverAutolaunches(t *testing.T) {
	t.Parallel()
	for name, env := range map[string][]string{
		"no address":         {},
		"empty address":      {"DBUS_SESSION_BUS_ADDRESS="},
		"autolaunch address": {"DBUS_SESSION_BUS_ADDRESS=autolaunch:"},
	} {
		t.Run(name, func(t *testing.T) {
			env = append(env, "DISPLAY=:0", "XDG_RUNTIME_DIR="+t.TempDir())
			r := runSender(t, env, senderCall{Notifier{}, Event{Label: "t", Status: "failed", ExitCode: intp(1)}})[0]
			checkFailedQuickly(t, r)
			if !r.NoSessionBus {
				t.Errorf("err = %q, want ErrNoSessionBus", r.Err)
			}
		})
	}
}

// TestDesktopNobodyOwnsNotifications: a bus without a notification server.
// beeep's D-Bus call would fail and it would run notify-send and kdialog
// instead; runSender fails the test if it does.
func TestDesktopNobodyOwnsNotifications(t *testing.T) {
	t.Parallel()
	addr, _ := startBus(t)
	r := runSender(t, []string{"DBUS_SESSION_BUS_ADDRESS=" + addr, "DISPLAY=:0"},
		senderCall{Notifier{Timeout: slowBox}, Event{Label: "t", Status: "failed"}})[0]
	checkFailedQuickly(t, r)
	if !strings.Contains(r.Err, "org.freedesktop.Notifications") || r.DeadlineExceeded {
		t.Errorf("err = %q, want it to name org.freedesktop.Notifications, at once", r.Err)
	}
}

// TestDesktopServerNeverAnswers: beeep's call hangs, so Notify gives up on
// it at its timeout; a second notification in the same process waits for
// the first (beeep's state is per process) and gives up at its own.
func TestDesktopServerNeverAnswers(t *testing.T) {
	t.Parallel()
	addr, _ := startBus(t)
	srv := &notificationServer{hang: make(chan struct{})}
	serve(t, addr, srv)
	n := Notifier{Timeout: 500 * time.Millisecond}
	ev := Event{Label: "t", Status: "failed"}
	r := runSender(t, []string{"DBUS_SESSION_BUS_ADDRESS=" + addr}, senderCall{n, ev}, senderCall{n, ev})
	for i, r := range r {
		checkFailedQuickly(t, r)
		if !r.DeadlineExceeded {
			t.Errorf("call %d: err = %q, want context.DeadlineExceeded", i, r.Err)
		}
	}
	// The second call's error says "an earlier desktop notification is
	// still in progress" when its wait for the first ends before Notify's
	// own timer fires; both happen at the deadline, so either may win.
}

// TestDesktopBusNeverAnswers listens on a socket that accepts connections
// and never speaks: authentication must not hold Notify past its timeout.
// The check fails before beeep is reached, so this runs in this process.
func TestDesktopBusNeverAnswers(t *testing.T) {
	t.Parallel()
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
	t.Parallel()
	addr, _ := startBus(t)
	srv := &notificationServer{}
	serve(t, addr, srv)
	out := filepath.Join(t.TempDir(), "hook")
	// The hook runs with the sender's environment, whose PATH has only
	// the fake tools: printf is a builtin of /bin/sh.
	sendOne(t, []string{"DBUS_SESSION_BUS_ADDRESS=" + addr, "OUT=" + out},
		Notifier{Command: `printf '%s' "$BG_NOTIFY_TITLE" > "$OUT"`, Timeout: slowBox},
		Event{Label: "e2e", Status: "reaped"})
	want := "✗ e2e reaped (orphaned or too old)"
	if got := srv.notifications(); len(got) != 1 || got[0].Summary != want {
		t.Errorf("server got %+v", got)
	}
	if b, err := os.ReadFile(out); err != nil || string(b) != want {
		t.Errorf("hook wrote %q, %v; want %q", b, err, want)
	}
}
