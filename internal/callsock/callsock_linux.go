package callsock

import (
	"errors"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// Address is the abstract Unix socket address ("@" first, as package
// net and syscall write it) of the server for the executable at exe:
// the user's, that file's as it is now, and the calling process's
// context as far as it can be read cheaply (contextTag). Abstract
// addresses leave no file behind when a server ends.
//
// The context is in the address so that callers in different contexts
// (two terminals' systemd scopes, a sandbox, another umask) each get a
// server of their own instead of one that refuses them: a server takes
// only calls of its whole context, which it checks itself (package
// callserver), whatever address a caller used.
func Address(exe string) (string, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(exe, &st); err != nil {
		return "", &PathError{Op: "stat", Path: exe, Err: err}
	}
	b := append(append(userPrefix(), '-'), strconv.FormatUint(st.Dev, 36)...)
	for _, n := range []uint64{st.Ino, uint64(st.Size), uint64(st.Mtim.Sec), uint64(st.Mtim.Nsec), contextTag()} {
		b = strconv.AppendUint(append(b, '-'), n, 36) // Base 36: the address has 107 bytes at most.
	}
	return string(b), nil
}

// userPrefix begins the addresses of this user's servers: the uid in
// decimal, as people read it in /proc/net/unix.
func userPrefix() []byte {
	return strconv.AppendInt([]byte("@amp-bg-tasks-call-"), int64(syscall.Getuid()), 10)
}

// contextTag hashes (FNV-1a) what of this process's context a client
// can read in a few system calls: its cgroup, its mount namespace, its
// umask and its nice level.
func contextTag() uint64 {
	h := uint64(14695981039346656037)
	add := func(b []byte) {
		for _, c := range b {
			h = (h ^ uint64(c)) * 1099511628211
		}
		h = (h ^ 0xff) * 1099511628211 // A separator: "ab"+"c" is not "a"+"bc".
	}
	var buf [512]byte
	if fd, err := syscall.Open("/proc/self/cgroup", syscall.O_RDONLY|syscall.O_CLOEXEC, 0); err == nil {
		n, _ := syscall.Read(fd, buf[:])
		syscall.Close(fd)
		add(buf[:max(n, 0)])
	}
	var ns syscall.Stat_t
	if syscall.Stat("/proc/self/ns/mnt", &ns) == nil {
		add(strconv.AppendUint(buf[:0], ns.Ino, 10))
	}
	mask := syscall.Umask(0)
	syscall.Umask(mask) // Read, not changed: nothing is created between the two.
	add(strconv.AppendInt(buf[:0], int64(mask), 8))
	if prio, err := syscall.Getpriority(syscall.PRIO_PROCESS, 0); err == nil {
		add(strconv.AppendInt(buf[:0], int64(prio), 10))
	}
	return h
}

// Listening returns the addresses at which call servers of this user
// listen, of any build, from /proc/net/unix (of this network namespace).
func Listening() ([]string, error) {
	b, err := os.ReadFile("/proc/net/unix")
	if err != nil {
		return nil, err
	}
	prefix := string(userPrefix()) + "-"
	var addrs []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 8 && strings.HasPrefix(f[7], prefix) && !slices.Contains(addrs, f[7]) {
			addrs = append(addrs, f[7])
		}
	}
	return addrs, nil
}

// PathError is an Address that could not be made.
type PathError struct {
	Op, Path string
	Err      error
}

func (e *PathError) Error() string {
	return "call server: " + e.Op + " " + e.Path + ": " + e.Err.Error()
}
func (e *PathError) Unwrap() error { return e.Err }

// Dial connects to the server at addr and checks it runs as this user.
// It returns the connection's descriptor, or an error that wraps
// syscall.ECONNREFUSED when no server listens there.
func Dial(addr string) (int, error) {
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_SEQPACKET|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	for {
		err = syscall.Connect(fd, &syscall.SockaddrUnix{Name: addr})
		if err != syscall.EINTR {
			break
		}
	}
	if err == nil {
		err = SameUser(fd)
	}
	if err != nil {
		syscall.Close(fd) // Best effort.
		return -1, err
	}
	return fd, nil
}

// ErrOtherUser reports a peer that runs as another user: an abstract
// address is open to every user of the machine, so a server or a client
// of another user is refused.
var ErrOtherUser = errors.New("call server: the peer runs as another user")

// SameUser checks that the peer of the connected socket fd runs as this
// process's user.
func SameUser(fd int) error {
	cred, err := syscall.GetsockoptUcred(fd, syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	if err != nil {
		return err
	}
	if int(cred.Uid) != syscall.Getuid() {
		return ErrOtherUser
	}
	return nil
}

// Probe returns the pid of the server that listens at addr, connecting
// without a request (the server answers such a probe with nothing and
// goes on); an error when none of this user listens there.
func Probe(addr string) (int, error) {
	fd, err := Dial(addr)
	if err != nil {
		return 0, err
	}
	defer syscall.Close(fd) // Best effort: a probe.
	return PeerPID(fd)
}

// PeerPID is the process id of the peer of the connected socket fd.
func PeerPID(fd int) (int, error) {
	cred, err := syscall.GetsockoptUcred(fd, syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	if err != nil {
		return 0, err
	}
	return int(cred.Pid), nil
}

// Send sends r on the connection fd with stdio (the caller's standard
// input, output and error) attached.
func Send(fd int, r Request, stdio [3]int) error {
	for {
		err := syscall.Sendmsg(fd, r.Encode(), syscall.UnixRights(stdio[:]...), nil, 0)
		if err != syscall.EINTR {
			return err
		}
	}
}

// Answer waits for the server's answer on fd. taken is false when the
// call did not run (refused: the error is a *RefusedError; or the server
// ended before taking it); otherwise code is the call's exit code, or
// the error says the server ended during the call.
func Answer(fd int) (code int, taken bool, err error) {
	var b [512]byte
	n, err := readMsg(fd, b[:])
	switch {
	case err != nil:
		return 0, false, err
	case n == 0:
		return 0, false, errors.New("call server: ended before it took the call")
	case b[0] == '-':
		return 0, false, &RefusedError{Why: string(b[1:n])}
	case b[0] != '+' || n != 1:
		return 0, false, errors.New("call server: an answer that is not this protocol's")
	}
	if n, err = readMsg(fd, b[:]); err != nil {
		return 0, true, err
	}
	if n == 0 {
		return 0, true, errors.New("call server: ended before it answered")
	}
	code, err = DecodeExit(b[:n])
	return code, true, err
}

// readMsg reads one message from fd, retrying when interrupted.
func readMsg(fd int, b []byte) (int, error) {
	for {
		n, err := syscall.Read(fd, b)
		if err != syscall.EINTR {
			return n, err
		}
	}
}
