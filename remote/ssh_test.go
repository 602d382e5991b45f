package remote_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/remotetest"
	"github.com/amp-bg-tasks/amp-bg-tasks/remote"
)

func TestSplitCommand(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		err  bool
	}{
		{"ssh", []string{"ssh"}, false},
		{"ssh -F /tmp/my config", []string{"ssh", "-F", "/tmp/my", "config"}, false},
		{`ssh -F '/tmp/my config' -o "ProxyJump=a b"`, []string{"ssh", "-F", "/tmp/my config", "-o", "ProxyJump=a b"}, false},
		{`ssh -i my\ key`, []string{"ssh", "-i", "my key"}, false},
		{`"a\"b\\c\$d\x"`, []string{`a"b\c$d\x`}, false},
		{`a''b ''`, []string{"ab", ""}, false},
		{"  ssh \t -v\n", []string{"ssh", "-v"}, false},
		{`ssh 'open`, nil, true},
		{`ssh "open`, nil, true},
		{`ssh \`, nil, true},
	} {
		got, err := remote.SplitCommand(tc.in)
		if (err != nil) != tc.err || strings.Join(got, "|") != strings.Join(tc.want, "|") || len(got) != len(tc.want) {
			t.Errorf("SplitCommand(%q) = %q, %v; want %q (error: %v)", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func FuzzSplitCommand(f *testing.F) {
	for _, s := range []string{"ssh -F x", `a 'b c' "d\"e" f\ g`, `"`, `'`, `\`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		words, err := remote.SplitCommand(s)
		if err != nil {
			return
		}
		// Quoting each word again and splitting gives the same words.
		var b strings.Builder
		for _, w := range words {
			b.WriteString("'" + strings.ReplaceAll(w, "'", `'\''`) + "' ")
		}
		again, err := remote.SplitCommand(b.String())
		if err != nil || strings.Join(again, "\x00") != strings.Join(words, "\x00") || len(again) != len(words) {
			t.Fatalf("%q: split %q, requoted and split %q (%v)", s, words, again, err)
		}
	})
}

func TestCheckHost(t *testing.T) {
	for _, h := range []string{"devbox", "me@build.example.com", "10.0.0.1", "[::1]"} {
		if err := remote.CheckHost(h); err != nil {
			t.Errorf("CheckHost(%q): %v", h, err)
		}
	}
	for _, h := range []string{"", "-oProxyCommand=x", "a b", "a\nb", "a'b", strings.Repeat("a", 256)} {
		if err := remote.CheckHost(h); err == nil {
			t.Errorf("CheckHost(%q) accepted it", h)
		}
	}
}

// controlDir is remote.ControlDir, checked private (0700), its temporary
// folder removed when the test ends.
func controlDir(t *testing.T, runtimeDir, state string) string {
	t.Helper()
	dir, err := remote.ControlDir(runtimeDir, state)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(dir, runtimeDir+"/") || runtimeDir == "" {
		t.Cleanup(func() { _ = os.RemoveAll(dir) })
	}
	fi, err := os.Lstat(dir)
	if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Fatalf("control folder %s: %v, mode %v; want a 0700 folder", dir, err, fi.Mode())
	}
	if len(dir)+41 > 103-17 {
		t.Errorf("control folder %s leaves no room for a socket name", dir)
	}
	return dir
}

// shortTemp is a temporary folder with a short path (t.TempDir's are too
// long for socket paths), removed when the test ends.
func shortTemp(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "rt")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// The control folder is $XDG_RUNTIME_DIR/bgtask, else a folder with a
// random name recorded in the state folder. A candidate another user
// made first, or one others may enter, or a link, is skipped: never used,
// never a dead end.
func TestControlDirIsPrivate(t *testing.T) {
	runtime, state := shortTemp(t), t.TempDir()
	if dir := controlDir(t, runtime, state); dir != filepath.Join(runtime, "bgtask") {
		t.Errorf("with XDG_RUNTIME_DIR: %s, want %s/bgtask", dir, runtime)
	}
	// Without it: a random name, recorded, and the same one next time.
	first := controlDir(t, "", state)
	if b, err := os.ReadFile(filepath.Join(state, remote.ControlRecord)); err != nil || strings.TrimSpace(string(b)) != first {
		t.Fatalf("record %q (%v), want %s", b, err, first)
	}
	if again := controlDir(t, "", state); again != first {
		t.Errorf("second call: %s, want the recorded %s", again, first)
	}
	other := controlDir(t, "", t.TempDir())
	if other == first {
		t.Errorf("two state folders got the same folder %s: the name is not random", first)
	}

	// Squatted candidates, each skipped.
	squat := func(name string, how func(dir string) error) {
		t.Run(name, func(t *testing.T) {
			runtime := shortTemp(t)
			bad := filepath.Join(runtime, "bgtask")
			if err := how(bad); err != nil {
				t.Fatal(err)
			}
			state := t.TempDir()
			dir := controlDir(t, runtime, state)
			if dir == bad || strings.HasPrefix(dir, runtime) {
				t.Fatalf("used the squatted %s", dir)
			}
			// The recorded folder, squatted in turn (as after a cleaner
			// of the temporary folder removed it), is skipped too.
			if err := os.Remove(dir); err != nil {
				t.Fatal(err)
			}
			if err := how(dir); err != nil {
				t.Fatal(err)
			}
			if again := controlDir(t, runtime, state); again == dir || again == bad {
				t.Fatalf("used the squatted %s", again)
			}
		})
	}
	squat("others may enter", func(dir string) error { return os.Mkdir(dir, 0o755) })
	squat("a link to a private folder", func(dir string) error { return os.Symlink(t.TempDir(), dir) })
	squat("a file", func(dir string) error { return os.WriteFile(dir, nil, 0o600) })
	if os.Getuid() == 0 {
		squat("another user's", func(dir string) error {
			if err := os.Mkdir(dir, 0o700); err != nil {
				return err
			}
			return os.Chown(dir, 65534, 65534)
		})
	} else {
		t.Log("not root: the folder made by another user is not tried")
	}
	// A runtime folder too long for socket paths is skipped.
	long := filepath.Join(t.TempDir(), strings.Repeat("x", 80))
	if err := os.Mkdir(long, 0o700); err != nil {
		t.Fatal(err)
	}
	if dir := controlDir(t, long, t.TempDir()); strings.HasPrefix(dir, long) {
		t.Errorf("used %s, too long for sockets", dir)
	}
}

// newSSH is the transport a user of srv has: BG_SSH="ssh -F config".
func newSSH(t *testing.T, srv *remotetest.Server) *remote.SSH {
	t.Helper()
	env := map[string]string{"BG_SSH": srv.SSHCommand()}
	s, err := remote.NewSSH(func(k string) string { return env[k] }, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, h := range []string{srv.Alias, srv.Unreachable, srv.Refused} {
			_ = s.Exit(context.Background(), h) // Best effort: most have none.
		}
		_ = os.RemoveAll(s.ControlDir) // Best effort: a random folder in the temporary folder.
	})
	return s
}

func run(t *testing.T, s remote.Transport, host, command string) (string, int, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out bytes.Buffer
	code, err := s.Run(ctx, host, command, nil, &out, nil)
	return out.String(), code, err
}

func TestSSHRunsAsTheRemoteUserOverOneMaster(t *testing.T) {
	t.Parallel() // Each has its own account and sshd.
	srv := remotetest.Start(t)
	s := newSSH(t, srv)
	out, code, err := run(t, s, srv.Alias, "id -u; echo $HOME; exit 3")
	if err != nil || code != 3 {
		t.Fatalf("run: %v, exit %d, output %q\n%s", err, code, out, srv.Log())
	}
	if want := strconv.Itoa(srv.UID) + "\n" + srv.Home + "\n"; out != want {
		t.Errorf("output %q, want %q", out, want)
	}
	pid, err := s.MasterPID(context.Background(), srv.Alias)
	if err != nil {
		t.Fatal(err)
	}
	// Calls go through the same master: its PID stays, and the socket is
	// in the private folder.
	for range 3 {
		if _, _, err := run(t, s, srv.Alias, "true"); err != nil {
			t.Fatal(err)
		}
	}
	if again, err := s.MasterPID(context.Background(), srv.Alias); err != nil || again != pid {
		t.Errorf("master pid %d, then %d (%v): want one master", pid, again, err)
	}
	ents, _ := os.ReadDir(s.ControlDir)
	if len(ents) != 1 {
		t.Errorf("control folder holds %d entries, want the one socket", len(ents))
	}
	// stdin reaches the command, byte for byte.
	var out2 bytes.Buffer
	in := "line 1\n$HOME `x` 'q' \"dq\" *\n\x00\xff end"
	if _, err := s.Run(context.Background(), srv.Alias, "cat", strings.NewReader(in), &out2, nil); err != nil || out2.String() != in {
		t.Errorf("cat: %v, got %q want %q", err, out2.String(), in)
	}
}

func TestSSHErrorsSayHowToFixThem(t *testing.T) {
	t.Parallel() // Each has its own account and sshd.
	srv := remotetest.Start(t)
	s := newSSH(t, srv)

	check := func(name string, err error, kind remote.Kind, words ...string) {
		t.Helper()
		if !remote.IsKind(err, kind) {
			t.Errorf("%s: got %v, want kind %d", name, err, kind)
			return
		}
		for _, w := range words {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q does not say %q", name, err, w)
			}
		}
		t.Logf("%s: %v", name, err)
	}

	start := time.Now()
	_, _, err := run(t, s, srv.Unreachable, "true")
	check("unreachable", err, remote.KindUnreachable, srv.Unreachable, "ssh "+srv.Unreachable+" true")
	t.Logf("unreachable host failed after %v (ConnectTimeout %v)", time.Since(start), remote.DefaultConnectTimeout)
	_, _, err = run(t, s, srv.Refused, "true")
	check("refused", err, remote.KindUnreachable, "Connection refused")

	srv.ForgetHostKey(t)
	_, _, err = run(t, s, srv.Alias, "true")
	check("unknown host key", err, remote.KindHostKeyUnknown, "ssh "+srv.Alias, "accept")

	srv.TrustHostKey(t)
	srv.NewHostKey(t)
	_, _, err = run(t, s, srv.Alias, "true")
	check("changed host key", err, remote.KindHostKeyChanged, "ssh-keygen -R")

	srv.TrustHostKey(t)
	if _, _, err := run(t, s, srv.Alias, "true"); err != nil {
		t.Fatalf("with the new key trusted: %v", err)
	}
	_ = s.Exit(context.Background(), srv.Alias)
	srv.WriteFile(t, ".ssh/authorized_keys", nil, 0o600)
	_, _, err = run(t, s, srv.Alias, "true")
	check("refused key", err, remote.KindAuth, "ssh-copy-id")

	for _, cmd := range []string{"/nonexistent/ssh", "no-such-ssh-program"} {
		bad := *s
		bad.Command = []string{cmd}
		_, _, err = run(t, &bad, srv.Alias, "true")
		check("no ssh "+cmd, err, remote.KindNoSSH, "openssh-client", cmd)
	}
	_, _, err = run(t, s, "-oProxyCommand=touch /tmp/x", "true")
	if err == nil || !strings.Contains(err.Error(), "must not start with '-'") {
		t.Errorf("an option as host: %v", err)
	}
}

func TestSSHDroppedMasterIsAClearErrorAndTheNextCallReconnects(t *testing.T) {
	t.Parallel() // Each has its own account and sshd.
	srv := remotetest.Start(t)
	s := newSSH(t, srv)
	if _, _, err := run(t, s, srv.Alias, "true"); err != nil {
		t.Fatal(err)
	}
	pid, err := s.MasterPID(context.Background(), srv.Alias)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var runErr error
	var out string
	wg.Go(func() { out, _, runErr = run(t, s, srv.Alias, "echo started; sleep 30; echo never") })
	// Drop the connection once the command runs there.
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(srv.Run(t, "ps -o args= -u "+srv.User), "sleep 30") {
		if time.Now().After(deadline) {
			t.Fatal("the remote command never started")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if !remote.IsKind(runErr, remote.KindDropped) || strings.Contains(out, "never") {
		t.Fatalf("dropped mid-call: %v (output %q), want a dropped connection", runErr, out)
	}
	t.Logf("dropped: %v", runErr)
	if !strings.Contains(runErr.Error(), "call again") {
		t.Errorf("%q does not say what to do", runErr)
	}
	got, _, err := run(t, s, srv.Alias, "echo back")
	if err != nil || got != "back\n" {
		t.Fatalf("the next call: %q, %v", got, err)
	}
	if again, err := s.MasterPID(context.Background(), srv.Alias); err != nil || again == pid {
		t.Errorf("after the drop, master %d (%v): want a new one", again, err)
	}
}

// A second alias of the same user@host:port does not ride the first
// one's master: its own checks apply (here: its host key is not known to
// it). With ssh's %C alone in the socket's name it did, and a product
// trial's alias with a wrong key or an empty known_hosts worked while
// another alias's master was up.
func TestEachAliasHasItsOwnMaster(t *testing.T) {
	t.Parallel() // Each has its own account and sshd.
	srv := remotetest.Start(t)
	conf, err := os.ReadFile(srv.Config)
	if err != nil {
		t.Fatal(err)
	}
	stranger := fmt.Sprintf("Host stranger\n  HostName 127.0.0.1\n  Port %d\n  User %s\n  UserKnownHostsFile /dev/null\n", srv.Port, srv.User)
	conf = []byte(strings.Replace(string(conf), "Host *\n", stranger+"Host *\n", 1))
	if err := os.WriteFile(srv.Config, conf, 0o600); err != nil {
		t.Fatal(err)
	}
	s := newSSH(t, srv)
	if _, _, err := run(t, s, srv.Alias, "true"); err != nil {
		t.Fatalf("%s: %v", srv.Alias, err)
	}
	if _, err := s.MasterPID(context.Background(), srv.Alias); err != nil {
		t.Fatalf("no master for %s: %v", srv.Alias, err)
	}
	if _, _, err := run(t, s, "stranger", "true"); !remote.IsKind(err, remote.KindHostKeyUnknown) {
		t.Errorf("an alias whose known_hosts is empty, while another's master is up: %v", err)
	}
}
