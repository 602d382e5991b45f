package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/atomicfile"
)

// Transport is the seam between bgtask and another machine: it runs one
// command line on a host, feeding it stdin and copying its stdout. SSH is
// the implementation; a container runtime (docker exec, kubectl exec)
// would be another.
type Transport interface {
	// Run runs command on host and returns its exit status; the
	// command's stderr goes to stderr when it is not nil. err is set only
	// when the command could not be run to its end: an *Error, or ctx's
	// error (wrapped) when ctx ended first.
	Run(ctx context.Context, host, command string, stdin io.Reader, stdout, stderr io.Writer) (exitCode int, err error)
}

// Defaults of SSH.
const (
	// DefaultConnectTimeout bounds connecting to an unreachable host,
	// so that it fails within 10 s.
	DefaultConnectTimeout = 7 * time.Second
	// DefaultPersist is how long an idle master connection stays open.
	DefaultPersist = 10 * time.Minute
	// DefaultAlive is how often a quiet connection is probed; after
	// three unanswered probes it counts as dropped.
	DefaultAlive = 5 * time.Second
)

// SSH runs commands through the system's OpenSSH client, one master
// connection per host.
type SSH struct {
	// Command is ssh and its options, from $BG_SSH (see SplitCommand).
	// Default: ssh.
	Command []string
	// ControlDir holds the master connections' sockets; it must be ours
	// and private (0700). See ControlDir.
	ControlDir string
	// ConnectTimeout, Persist, Alive: see the defaults.
	ConnectTimeout, Persist, Alive time.Duration
	// Env is ssh's environment; nil is this process's.
	Env []string
}

// NewSSH returns the transport configured by the environment: $BG_SSH
// replaces the ssh command and its options (like GIT_SSH_COMMAND), and
// the master sockets live in ControlDir($XDG_RUNTIME_DIR, stateDir).
func NewSSH(getenv func(string) string, stateDir string) (*SSH, error) {
	s := &SSH{Command: []string{"ssh"}}
	if v := strings.TrimSpace(getenv("BG_SSH")); v != "" {
		words, err := SplitCommand(v)
		if err != nil {
			return nil, fmt.Errorf("BG_SSH %q: %w", v, err)
		}
		if len(words) == 0 {
			return nil, fmt.Errorf("BG_SSH %q names no command", v)
		}
		s.Command = words
	}
	dir, err := ControlDir(getenv("XDG_RUNTIME_DIR"), stateDir)
	if err != nil {
		return nil, err
	}
	s.ControlDir = dir
	return s, nil
}

// maxSocketPath is what every Unix takes for a socket path (macOS: 104
// bytes with the terminating NUL); ssh adds the socket's name
// (socketNameLen) and, while it binds, a 17-byte temporary suffix.
const maxSocketPath = 103

// socketNameLen is a master socket's name: aliasTag, '-', then ssh's
// 40-byte %C (a hash of the user, host and port it reaches).
const socketNameLen = 6 + 1 + 40

// aliasTag names the host as the caller gave it (its ssh alias) in its
// master socket's name. ssh's %C alone names the destination, so a second
// alias to the same user@host:port (another key, another known_hosts)
// would ride the first alias's authenticated master and skip its own
// checks; with the alias in the name each alias has its own master.
//
// FNV, not SHA-256: the name needs no secrecy, and crypto/sha256 would
// link the FIPS module, whose package inits every tool call would pay.
func aliasTag(host string) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(host)) // Never fails.
	return fmt.Sprintf("%06x", h.Sum32()&0xffffff)
}

// ControlRecord is the file in the state folder that names the private
// control folder made when there is no XDG_RUNTIME_DIR.
const ControlRecord = "ssh-control"

// ControlDir returns the private folder for master sockets. A socket
// there lets anyone who can reach it run commands on the host as the
// user, so the folder must be the user's own and closed to others.
// Candidates, first usable one wins:
//   - $XDG_RUNTIME_DIR/bgtask when runtimeDir is set (the per-user
//     runtime folder, private by design and emptied at logout);
//   - the folder named in <stateDir>/ssh-control, made earlier;
//   - a new folder with a random name in the system's temporary folder,
//     then recorded in <stateDir>/ssh-control.
//
// A candidate that is not a folder of this user's, that others may
// enter, or whose socket paths would be too long is skipped, never
// used and never a dead end: a predictable name in a shared folder could
// have been made first by another local user (who could then neither be
// trusted nor removed), and a random name is made by mkdir itself, which
// fails rather than take a folder that is already there.
func ControlDir(runtimeDir, stateDir string) (string, error) {
	if runtimeDir != "" && filepath.IsAbs(runtimeDir) {
		dir := filepath.Join(runtimeDir, "bgtask")
		if err := os.Mkdir(dir, 0o700); err == nil || errors.Is(err, fs.ErrExist) {
			if usableControlDir(dir) == nil {
				return dir, nil
			}
		}
	}
	record := filepath.Join(stateDir, ControlRecord)
	if b, err := os.ReadFile(record); err == nil {
		if dir := strings.TrimSpace(string(b)); filepath.IsAbs(dir) && usableControlDir(dir) == nil {
			return dir, nil
		}
	}
	var errs []error
	for _, tmp := range []string{os.TempDir(), "/tmp"} {
		dir, err := os.MkdirTemp(tmp, "bgtask-ssh-")
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := usableControlDir(dir); err != nil {
			_ = os.Remove(dir) // Best effort: ours and empty.
			errs = append(errs, err)
			continue
		}
		// Two first calls at once each make and record a folder: the
		// last record wins, the other folder serves its call and is
		// left to the system's cleaning of its temporary folder.
		if err := os.MkdirAll(stateDir, 0o700); err != nil {
			_ = os.Remove(dir) // Best effort.
			return "", fmt.Errorf("record the ssh control folder: %w", err)
		}
		if err := atomicfile.WriteFile(record, []byte(dir+"\n"), 0o600); err != nil {
			_ = os.Remove(dir) // Best effort.
			return "", fmt.Errorf("record the ssh control folder: %w", err)
		}
		return dir, nil
	}
	return "", fmt.Errorf("create the ssh control folder: %w", errors.Join(errs...))
}

// usableControlDir says why dir cannot hold master sockets, or nil: it
// must be a folder (not a link to one) of this user's that only this
// user may enter, short enough for socket paths.
func usableControlDir(dir string) error {
	if len(dir)+1+socketNameLen+17 > maxSocketPath {
		return fmt.Errorf("%s: too long a path for sockets", dir)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); !fi.IsDir() || !ok || int(st.Uid) != os.Getuid() || fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("%s: not a private folder of this user's (mode %v)", dir, fi.Mode())
	}
	return nil
}

// CheckHost refuses a destination that ssh would take for an option or
// that holds spaces or control characters.
func CheckHost(host string) error {
	switch {
	case host == "":
		return errors.New("empty host")
	case strings.HasPrefix(host, "-"):
		return fmt.Errorf("host %q must not start with '-'", host)
	case len(host) > 255:
		return fmt.Errorf("host %q is longer than 255 bytes", host)
	case strings.IndexFunc(host, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '\'' || r == '"' || r == '\\' }) >= 0:
		return fmt.Errorf("host %q must not hold spaces, quotes or control characters", host)
	}
	return nil
}

// args is the ssh command line for host: the user's command, our options
// (given first, they win over the config files), then extra.
func (s *SSH) args(host string, extra ...string) []string {
	cmd := s.Command
	if len(cmd) == 0 {
		cmd = []string{"ssh"}
	}
	secs := func(d, def time.Duration) string {
		if d <= 0 {
			d = def
		}
		return strconv.Itoa(max(1, int(d.Round(time.Second)/time.Second)))
	}
	a := append([]string{}, cmd[1:]...)
	a = append(a,
		"-o", "BatchMode=yes", // Never prompt: there is nobody to answer.
		"-o", "ControlMaster=auto",
		"-o", "ControlPath="+filepath.Join(s.ControlDir, aliasTag(host)+"-%C"),
		"-o", "ControlPersist="+secs(s.Persist, DefaultPersist),
		"-o", "ConnectTimeout="+secs(s.ConnectTimeout, DefaultConnectTimeout),
		"-o", "ServerAliveInterval="+secs(s.Alive, DefaultAlive),
		"-o", "ServerAliveCountMax=3",
		"-T", // No terminal: bytes pass unchanged.
	)
	a = append(a, extra...)
	return append(a, host)
}

func (s *SSH) cmd(ctx context.Context, host string, extra ...string) *exec.Cmd {
	name := "ssh"
	if len(s.Command) > 0 {
		name = s.Command[0]
	}
	c := exec.CommandContext(ctx, name, s.args(host, extra...)...)
	c.Env = s.Env
	// A master started by this call lives on in the background; it
	// lets go of our pipes, but never wait on them for long.
	c.WaitDelay = 2 * time.Second
	return c
}

// Run runs command on host (see Transport). ssh's own failures (exit
// status 255 with ssh's words on stderr) come back as *Error.
func (s *SSH) Run(ctx context.Context, host, command string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	if err := CheckHost(host); err != nil {
		return -1, &Error{Host: host, Kind: KindSSH, Detail: err.Error(), Fix: "give an ssh destination: an alias from ~/.ssh/config, host or user@host"}
	}
	c := s.cmd(ctx, host)
	c.Args = append(c.Args, "--", command)
	c.Stdin, c.Stdout = stdin, stdout
	var tail tailBuffer
	c.Stderr = &tail
	if stderr != nil {
		c.Stderr = io.MultiWriter(&tail, stderr)
	}
	err := c.Run()
	if err == nil {
		return 0, nil
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() != 255 && ee.ExitCode() >= 0 {
		return ee.ExitCode(), nil // The remote command's own status.
	}
	if ctx.Err() != nil {
		return -1, fmt.Errorf("ssh %s: %w", host, ctx.Err())
	}
	return -1, classify(host, s.Command, err, tail.String())
}

// MasterPID returns the process id of host's master connection, or an
// error when there is none (ssh -O check).
func (s *SSH) MasterPID(ctx context.Context, host string) (int, error) {
	c := s.cmd(ctx, host, "-O", "check")
	out, err := c.CombinedOutput()
	// "Master running (pid=12345)"
	if _, rest, ok := strings.Cut(string(out), "pid="); ok && err == nil {
		if pid, err := strconv.Atoi(strings.TrimRight(strings.Fields(rest)[0], ")")); err == nil {
			return pid, nil
		}
	}
	return 0, fmt.Errorf("no master connection to %s: %s", host, strings.TrimSpace(string(out)))
}

// Exit closes host's master connection, if there is one (ssh -O exit).
func (s *SSH) Exit(ctx context.Context, host string) error {
	out, err := s.cmd(ctx, host, "-O", "exit").CombinedOutput()
	if err != nil {
		return fmt.Errorf("close the connection to %s: %s", host, strings.TrimSpace(string(out)))
	}
	return nil
}

// tailBuffer keeps the last 8 KB written to it: ssh's verdict is at the
// end of what it says.
type tailBuffer struct{ b []byte }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > 8<<10 {
		t.b = t.b[len(t.b)-8<<10:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(bytes.TrimSpace(t.b)) }
