// Package remotetest starts a real sshd for tests: on a free port of
// 127.0.0.1, with a throwaway host key, letting in one throwaway local
// account (another uid, another home, our key in its authorized_keys)
// and nobody else. An ssh config file names it by an alias; tests give
// it to ssh with BG_SSH="ssh -F FILE", since ssh finds ~/.ssh through the
// account database, not $HOME.
//
// It needs root (to create the account and run sshd) and the Debian
// package openssh-server; without them the test is skipped.
package remotetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/procs"
	"github.com/amp-bg-tasks/amp-bg-tasks/remote"
)

// Sshd is the path of the OpenSSH server.
const Sshd = "/usr/sbin/sshd"

// Server is a running sshd and its one account.
type Server struct {
	// Alias names the server in Config: `ssh -F Config Alias`.
	Alias string
	// Unreachable and Refused are aliases in Config that fail: a
	// black-holed address, and a port where nothing listens.
	Unreachable, Refused string
	Config               string // the ssh config file
	KnownHosts           string // the known_hosts file Config uses
	User, Home           string // the remote account
	UID, GID             int
	Port                 int
	dir                  string
	cmd                  *exec.Cmd
	t                    testing.TB
}

// SSHCommand is the BG_SSH value that reaches the server.
func (s *Server) SSHCommand() string { return "ssh -F " + s.Config }

// Start starts the server, or skips the test when it cannot.
func Start(t testing.TB) *Server {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("needs root: creates an account and runs sshd (package openssh-server)")
	}
	if _, err := os.Stat(Sshd); err != nil {
		t.Skip("needs sshd: apt-get install openssh-server")
	}
	for _, prog := range []string{"ssh", "ssh-keygen", "useradd", "userdel", "usermod"} {
		if _, err := exec.LookPath(prog); err != nil {
			t.Skipf("needs %s (packages openssh-client, openssh-server, passwd)", prog)
		}
	}
	dir, err := os.MkdirTemp("", "bgsshd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) }) // Best effort.
	s := &Server{dir: dir, t: t, Alias: "devbox", Unreachable: "blackhole", Refused: "closed"}
	run(t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "bgtask-test-host", "-f", filepath.Join(dir, "hostkey"))
	run(t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "bgtask-test-client", "-f", filepath.Join(dir, "id"))
	s.createUser(t)
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil { // sshd's privilege-separation folder.
		t.Fatal(err)
	}
	s.Port = FreePort(t)
	s.KnownHosts = filepath.Join(dir, "known_hosts")
	s.TrustHostKey(t)
	s.Config = filepath.Join(dir, "ssh_config")
	closed := FreePort(t)
	conf := fmt.Sprintf(`Host %s
  HostName 127.0.0.1
  Port %d
  User %s
Host %s
  HostName 192.0.2.1
  User %s
Host %s
  HostName 127.0.0.1
  Port %d
  User %s
Host *
  IdentityFile %s
  IdentitiesOnly yes
  IdentityAgent none
  UserKnownHostsFile %s
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
  LogLevel ERROR
`, s.Alias, s.Port, s.User, s.Unreachable, s.User, s.Refused, closed, s.User, filepath.Join(dir, "id"), s.KnownHosts)
	if err := os.WriteFile(s.Config, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	s.start(t)
	return s
}

// createUser adds the account, unlocked for keys only, with our key.
func (s *Server) createUser(t testing.TB) {
	s.User = fmt.Sprintf("bgr%08x", rand.Uint32())
	run(t, "useradd", "-m", "-s", "/bin/bash", s.User)
	t.Cleanup(func() {
		s.KillUserProcs()
		if out, err := exec.Command("userdel", "-r", "-f", s.User).CombinedOutput(); err != nil {
			t.Logf("userdel %s: %v: %s", s.User, err, out)
		}
	})
	// sshd without PAM refuses a locked account: '*' unlocks it without
	// giving it a password.
	run(t, "usermod", "-p", "*", s.User)
	out, err := exec.Command("getent", "passwd", s.User).Output()
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Split(strings.TrimSpace(string(out)), ":")
	s.UID, _ = strconv.Atoi(f[2])
	s.GID, _ = strconv.Atoi(f[3])
	s.Home = f[5]
	pub, err := os.ReadFile(filepath.Join(s.dir, "id.pub"))
	if err != nil {
		t.Fatal(err)
	}
	s.WriteFile(t, ".ssh/authorized_keys", pub, 0o600)
}

// WriteFile writes a file under the account's home, owned by it, with
// the folders it needs (0700).
func (s *Server) WriteFile(t testing.TB, rel string, data []byte, mode os.FileMode) {
	t.Helper()
	p := filepath.Join(s.Home, rel)
	for d := filepath.Dir(p); len(d) > len(s.Home); d = filepath.Dir(d) {
		defer s.chown(t, d)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, mode); err != nil {
		t.Fatal(err)
	}
	s.chown(t, p)
}

func (s *Server) chown(t testing.TB, p string) {
	if err := os.Chown(p, s.UID, s.GID); err != nil {
		t.Fatal(err)
	}
}

func (s *Server) start(t testing.TB) {
	conf := fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s
PidFile %s
AllowUsers %s
PermitRootLogin no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
AuthorizedKeysFile .ssh/authorized_keys
UsePAM no
StrictModes yes
LogLevel VERBOSE
`, s.Port, filepath.Join(s.dir, "hostkey"), filepath.Join(s.dir, "sshd.pid"), s.User)
	confPath := filepath.Join(s.dir, "sshd_config")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	// -D: not detached, so that we hold its PID and end it ourselves.
	s.cmd = exec.Command(Sshd, "-D", "-f", confPath, "-E", filepath.Join(s.dir, "sshd.log"))
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	cmd := s.cmd
	t.Cleanup(func() { s.stop(cmd) })
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)), time.Second)
		if err == nil {
			_ = c.Close() // Only probing.
			return
		}
		if time.Now().After(deadline) || cmd.ProcessState != nil {
			log, _ := os.ReadFile(filepath.Join(s.dir, "sshd.log"))
			t.Fatalf("sshd did not listen on port %d: %v\n%s", s.Port, err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *Server) stop(cmd *exec.Cmd) {
	if cmd.Process == nil || cmd.ProcessState != nil {
		return // Not started, or stopped already (NewHostKey): its PID may be another's now.
	}
	// Connections are served by children of the listener: end them too.
	ctx := context.Background()
	if p, err := procs.Lookup(ctx, cmd.Process.Pid); err == nil {
		_, _ = procs.KillTree(ctx, procs.Target{Root: p, Grace: 5 * time.Second}) // Best effort: the account's cleanup ends what is left.
	} else {
		_ = cmd.Process.Kill() // Best effort: it may be gone.
	}
	_ = cmd.Wait() // Its status says nothing we need.
}

// NewHostKey restarts the server with a new host key: to ssh, the host
// key changed.
func (s *Server) NewHostKey(t testing.TB) {
	t.Helper()
	s.stop(s.cmd)
	key := filepath.Join(s.dir, "hostkey")
	_ = os.Remove(key)
	_ = os.Remove(key + ".pub")
	run(t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "bgtask-test-host-2", "-f", key)
	s.start(t)
}

// TrustHostKey writes the server's current host key into KnownHosts.
func (s *Server) TrustHostKey(t testing.TB) {
	t.Helper()
	pub, err := os.ReadFile(filepath.Join(s.dir, "hostkey.pub"))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(pub))
	line := fmt.Sprintf("[127.0.0.1]:%d %s %s\n", s.Port, f[0], f[1])
	if err := os.WriteFile(s.KnownHosts, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
}

// ForgetHostKey empties KnownHosts: to ssh, the host key is unknown.
func (s *Server) ForgetHostKey(t testing.TB) {
	t.Helper()
	if err := os.WriteFile(s.KnownHosts, nil, 0o600); err != nil {
		t.Fatal(err)
	}
}

// UserProcs lists the processes running as the account.
func (s *Server) UserProcs() []int {
	var out []int
	ents, _ := os.ReadDir("/proc") // Unreadable /proc: no processes seen.
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		fi, err := os.Stat(filepath.Join("/proc", e.Name()))
		if err != nil {
			continue
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) == s.UID {
			out = append(out, pid)
		}
	}
	return out
}

// KillUserProcs ends every process of the account (it is the test's own).
func (s *Server) KillUserProcs() {
	for range 20 {
		ps := s.UserProcs()
		if len(ps) == 0 {
			return
		}
		for _, pid := range ps {
			_ = syscall.Kill(pid, syscall.SIGKILL) // Best effort: may be gone.
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Log returns what sshd logged.
func (s *Server) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "sshd.log")) // Best effort, for failure messages.
	return string(b)
}

// Run runs a shell command as the account on this machine (not through
// ssh), for checks and setups: its combined output.
func (s *Server) Run(t testing.TB, script string) string {
	t.Helper()
	c := exec.Command("su", "-s", "/bin/sh", "-c", script, s.User)
	out, err := c.CombinedOutput()
	if err != nil {
		t.Fatalf("as %s: %s: %v\n%s", s.User, script, err, out)
	}
	return string(out)
}

// FreePort returns a TCP port of 127.0.0.1 that nothing listens on now.
func FreePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// ClosedHost writes an ssh config in which the alias "closed" names a
// port of 127.0.0.1 where nothing listens (ssh fails at once, "Connection
// refused"), and returns its path: a host that cannot be reached, for
// tests that need only the ssh client, not Start's sshd.
func ClosedHost(t testing.TB) string {
	t.Helper()
	conf := filepath.Join(t.TempDir(), "ssh_config")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf("Host closed\n  HostName 127.0.0.1\n  Port %d\n  BatchMode yes\n", FreePort(t))), 0o600); err != nil {
		t.Fatal(err)
	}
	return conf
}

func run(t testing.TB, name string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// Mount mounts a tmpfs of size bytes, owned by the account, on rel under
// its home (a full disk, made to order); it is unmounted at cleanup.
func (s *Server) Mount(t testing.TB, rel string, size int) {
	t.Helper()
	p := filepath.Join(s.Home, rel)
	if err := os.MkdirAll(p, 0o700); err != nil {
		t.Fatal(err)
	}
	opts := fmt.Sprintf("size=%d,uid=%d,gid=%d,mode=0700", size, s.UID, s.GID)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", opts, "tmpfs", p).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v: %s)", err, out)
	}
	t.Cleanup(func() {
		s.KillUserProcs()
		if out, err := exec.Command("umount", p).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", p, err, out)
		}
	})
}

// AppEnv is the environment of an App whose tasks may run on s: ssh
// through s's config and the lean builds of BuildDist. It sets no
// XDG_RUNTIME_DIR, so the ssh control folder is the test's own random
// one, never the user's (see CloseMasters).
func (s *Server) AppEnv(t testing.TB) []string {
	t.Helper()
	return []string{"BG_SSH=" + s.SSHCommand(), "BG_DIST_DIR=" + BuildDist(t), "XDG_RUNTIME_DIR="}
}

// CloseMasters ends the connections ssh holds open to s's aliases and
// removes its control folder: for a test's cleanup.
func (s *Server) CloseMasters(ssh *remote.SSH) {
	for _, h := range []string{s.Alias, s.Unreachable, s.Refused} {
		_ = ssh.Exit(context.Background(), h) // Best effort: most have none.
	}
	_ = os.RemoveAll(ssh.ControlDir) // Best effort.
}
