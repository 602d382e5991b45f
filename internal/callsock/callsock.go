// Package callsock is what the resident call server (package callserver)
// and its client (cmd/bgtask-call) must agree on: which calls go to the
// server, the server's address, and the one request a connection
// carries.
//
// A call is a whole invocation of a toolbox entry or of bg-reaper, as a
// process would have run it: its arguments, environment and working
// folder travel in the request, and its standard input, output and error
// travel as the client's own file descriptors (SCM_RIGHTS), so the
// server reads and writes the caller's pipes itself and nothing is
// copied through the client. The server answers with the exit code once
// it has closed its copies of those descriptors.
//
// The address names the server's executable (device, inode, size and
// modification time): a client reaches only a server running the very
// build it would run itself, so an upgrade never talks to an old server,
// which ends on its own when idle. Both ends check that the other runs as
// the same user.
//
// It uses package syscall and nothing heavier, because the client is
// linked with it and must start as fast as a bare Go program. It does not
// start, stop or find servers; the client and the server do.
package callsock

import (
	"errors"
	"strconv"
	"strings"
)

// ServeArg is the hidden first argument that turns the lean executable
// into a call server: `bgtask-tool __callserver`.
const ServeArg = "__callserver"

// ErrUnsupported reports a platform without the server (it needs
// abstract Unix sockets and SO_PEERCRED: Linux).
var ErrUnsupported = errors.New("the call server runs on Linux only")

// toolEntries are the toolbox entries a server answers: each runs with no
// argument besides its name (toolbox tells describe from execute by
// TOOLBOX_ACTION). package callserver's tests keep this list equal to
// the toolbox's tools.
var toolEntries = []string{"bg-run", "bg-status", "bg-output", "bg-stop", "bg-send"}

// Reaper is the entry the shell profile runs on every start; its
// arguments are `bgtask reap` flags.
const Reaper = "bg-reaper"

// Routed reports whether the invocation args (args[0] the name it was
// called by, a path or not) is one the server answers: a toolbox entry
// without arguments, or bg-reaper. Anything else (a hidden argument
// such as a supervisor's, the command line) runs in a process of its
// own.
func Routed(args []string) bool {
	if len(args) == 0 {
		return false
	}
	name := Name(args[0])
	if name == Reaper {
		for _, a := range args[1:] {
			if strings.HasPrefix(a, "__") {
				return false
			}
		}
		return true
	}
	for _, e := range toolEntries {
		if name == e {
			return len(args) == 1
		}
	}
	return false
}

// Name is the name a program was called by, from its args[0] (a path or
// not): "bg-run" for "/home/u/.config/amp/tools/bg-run".
func Name(arg0 string) string { return arg0[strings.LastIndexByte(arg0, '/')+1:] }

// ToolEntries returns the toolbox entries a server answers.
func ToolEntries() []string { return append([]string(nil), toolEntries...) }

// Request is one call: what a process would have been started with.
type Request struct {
	Args    []string // Args[0] is the entry's name
	Environ []string // "K=V"
	Wd      string   // the caller's working folder
}

// magic starts every request: a server refuses what it does not
// understand instead of guessing.
const magic = "bgcall1"

// Encode is r as one message: NUL-terminated fields, magic, Wd, the
// number of Args, Args, then Environ (none of which can hold a NUL: exec
// could not have passed them either).
func (r Request) Encode() []byte {
	n := len(magic) + len(r.Wd) + 8
	for _, s := range r.Args {
		n += len(s) + 1
	}
	for _, s := range r.Environ {
		n += len(s) + 1
	}
	b := make([]byte, 0, n)
	b = append(append(b, magic...), 0)
	b = append(append(b, r.Wd...), 0)
	b = append(strconv.AppendInt(b, int64(len(r.Args)), 10), 0)
	for _, s := range r.Args {
		b = append(append(b, s...), 0)
	}
	for _, s := range r.Environ {
		b = append(append(b, s...), 0)
	}
	return b
}

// Decode is Encode's inverse; it refuses anything Encode cannot have
// made.
func Decode(b []byte) (Request, error) {
	if len(b) == 0 || b[len(b)-1] != 0 {
		return Request{}, errors.New("call request: not NUL-terminated")
	}
	f := strings.Split(string(b[:len(b)-1]), "\x00")
	if len(f) < 3 || f[0] != magic {
		return Request{}, errors.New("call request: not a " + magic + " request")
	}
	n, err := strconv.Atoi(f[2])
	if err != nil || n < 1 || n > len(f)-3 || strconv.Itoa(n) != f[2] {
		return Request{}, errors.New("call request: bad argument count " + strconv.Quote(f[2]))
	}
	r := Request{Wd: f[1], Args: f[3 : 3+n]}
	if env := f[3+n:]; len(env) > 0 {
		r.Environ = env
	}
	for _, kv := range r.Environ {
		if !strings.Contains(kv, "=") {
			return Request{}, errors.New("call request: environment entry without '=': " + strconv.Quote(kv))
		}
	}
	return r, nil
}

// The server answers a request with two messages: EncodeTaken once it
// runs the call, then EncodeExit when the call is done; or with one,
// EncodeRefusal, when it will not run it (the client may then run it
// itself: nothing of it ran). A client that gets neither (the server
// ended first) knows the call did not run.

// EncodeTaken says the server runs the call.
func EncodeTaken() []byte { return []byte{'+'} }

// EncodeRefusal says the server will not run the call, and why.
func EncodeRefusal(why string) []byte { return append([]byte{'-'}, why...) }

// EncodeExit is the server's last answer: the call's exit code.
func EncodeExit(code int) []byte { return strconv.AppendInt(nil, int64(code), 10) }

// RefusedError is a call the server did not take; Why says why.
type RefusedError struct{ Why string }

func (e *RefusedError) Error() string { return "call server: not taken: " + e.Why }

// DecodeExit is EncodeExit's inverse.
func DecodeExit(b []byte) (int, error) {
	code, err := strconv.Atoi(string(b))
	if err != nil || code < 0 || code > 255 {
		return 0, errors.New("call answer: bad exit code " + strconv.Quote(string(b)))
	}
	return code, nil
}
