// Package callserver is the resident call server: one process per user
// and build that answers the toolbox entries (bg-run, bg-status, ...) and
// bg-reaper for short-lived clients (cmd/bgtask-call), so that a call
// costs the start of a bare Go program and a round trip instead of the
// start of the whole lean bgtask-tool (its package initialisation and
// page faults are most of a call's time: see BENCHMARKS.md).
//
// A client passes its own standard input, output and error with the
// request (see package callsock); the server runs the call on them, as
// the process would have, and answers with the exit code after closing
// its copies, so the caller sees the end of output before the client
// exits. It takes only calls of its own user and process context (see
// context_linux.go) and says so before it runs one; a call it refuses
// runs as a process. A client that goes away (killed by its agent's
// timeout) cancels its call. The server ends once it has been idle for
// Options.Idle, or when its context ends, after the calls in flight.
//
// It does not decide what a call does (Options.Handle does: package cli
// runs it as the process would have), nor start itself (the client
// starts one when it finds none), nor outlive an upgrade (a new build
// has a new address, and the old server ends when idle). Linux only.
package callserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/callsock"
)

// DefaultIdle is how long a server waits for a call before it ends.
const DefaultIdle = 10 * time.Minute

// Call is one call the server answers for a client.
type Call struct {
	callsock.Request
	// The client's standard input, output and error. The server closes
	// them when Handle returns.
	Stdin, Stdout, Stderr *os.File
}

// Options configure Serve.
type Options struct {
	// Idle is how long without a call before the server ends; 0 means
	// DefaultIdle.
	Idle time.Duration
	// Handle runs a call and returns its exit code. ctx ends when the
	// client goes away. Calls run concurrently.
	Handle func(ctx context.Context, c Call) int
	// Log receives what goes wrong outside a call (nil: discarded).
	Log io.Writer
	// AfterCall, when set, runs after each call has been answered and
	// its caller has gone (or had LeaveWait to), for the server's
	// housekeeping (a spare supervisor for the next task) that no caller
	// should wait for, not even while it exits.
	AfterCall func()
	// LeaveWait bounds how long AfterCall waits for an answered caller
	// to go; 0 means DefaultLeaveWait.
	LeaveWait time.Duration
}

// DefaultLeaveWait is how long a call's housekeeping waits for its
// caller to go once answered. A client exits at once; starting a spare
// (the exec of this program, then its runtime's start) while it does
// would take a CPU from its exit on a small machine, and the exit is
// part of what the caller waits for (bg_run's time through the server:
// see BENCHMARKS.md, round 9). A client that stays connected delays the
// housekeeping this long, no more.
const DefaultLeaveWait = 100 * time.Millisecond

// ErrRunning reports that a server for this build already listens.
var ErrRunning = errors.New("call server: one is already running for this build")

// shutdownGrace bounds how long a server that was told to stop (its
// context ended: SIGTERM, --uninstall) waits for the calls in flight; a
// call still running then fails for its caller with an error that says
// so, as one whose server was killed does.
const shutdownGrace = 10 * time.Second

// Serve listens at the address of the executable exe (see
// callsock.Address; it must be the program running, or clients of it
// would not find this server) and answers calls until it has been idle
// for o.Idle or ctx ends. It returns ErrRunning when another server
// listens there already.
//
// A call runs until it is done or its caller goes away, whatever
// happens to ctx: when ctx ends, the server stops taking calls and waits
// for those in flight, at most shutdownGrace. A call whose caller went
// away no longer counts as in flight (it may be blocked on the caller's
// pipes for ever): it keeps neither an idle server nor a stopping one up.
func Serve(ctx context.Context, exe string, o Options) error {
	if o.Handle == nil {
		return errors.New("call server: no handler")
	}
	if o.Idle <= 0 {
		o.Idle = DefaultIdle
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	self, err := readContext(os.Getpid())
	if err != nil {
		return fmt.Errorf("call server: read its own process context: %w", err)
	}
	if why := self.sandboxed(); why != "" {
		return fmt.Errorf("call server: it would run under %s, which no caller could be told apart from", why)
	}
	addr, err := callsock.Address(exe)
	if err != nil {
		return err
	}
	ln, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: addr, Net: "unixpacket"})
	if errors.Is(err, syscall.EADDRINUSE) {
		return ErrRunning
	}
	if err != nil {
		return fmt.Errorf("call server: listen: %w", err)
	}
	var once sync.Once
	stop := func() { once.Do(func() { _ = ln.Close() }) } // Wakes Accept; nothing else to report.
	idle := newIdleTimer(o.Idle, stop)
	stopped := context.AfterFunc(ctx, stop)
	defer stopped()

	s := &server{o: o, self: self, bufs: sync.Pool{New: func() any { b := make([]byte, maxRequest); return &b }}}
	var connected sync.WaitGroup // calls whose caller is still there
	defer func() {
		done := make(chan struct{})
		go func() { connected.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(shutdownGrace):
			fmt.Fprintln(o.Log, "call server: stopping with calls in flight")
		}
	}()
	for {
		c, err := ln.AcceptUnix()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			fmt.Fprintln(o.Log, "call server: accept:", err)
			stop()
			return fmt.Errorf("call server: accept: %w", err)
		}
		idle.busy()
		connected.Add(1)
		var asked atomic.Bool // a call came, not a probe
		gone := sync.OnceFunc(func() { idle.done(asked.Load()); connected.Done() })
		go func() {
			defer gone()
			s.serveConn(c, gone, &asked)
			if o.AfterCall != nil && asked.Load() { // Not after a probe: no call, no housekeeping.
				o.AfterCall()
			}
		}()
	}
}

// maxRequest bounds a request: the kernel's largest datagram on a
// default socket is below it, so a client cannot send one it truncates.
const maxRequest = 256 << 10

// server is one Serve's state shared by its calls.
type server struct {
	o Options
	// self is the server's process context: callers must share it.
	self procContext
	// bufs hold requests as they are read: a fresh 256 KB per call would
	// cost a call 64 page faults, which on a VM is most of its time.
	bufs sync.Pool
}

// serveConn answers the one call on c: "+" once it takes the call, then
// the exit code; or "-" and why it will not run it (the client then runs
// it itself). gone is called when the caller goes away, and may be
// called again.
func (s *server) serveConn(c *net.UnixConn, gone func(), asked *atomic.Bool) {
	o := s.o
	defer c.Close() // Best effort: the answer is sent, or cannot be.
	var peer error
	pid := 0
	if raw, err := c.SyscallConn(); err == nil {
		_ = raw.Control(func(fd uintptr) {
			if peer = callsock.SameUser(int(fd)); peer == nil {
				pid, peer = callsock.PeerPID(int(fd))
			}
		})
	}
	bufp := s.bufs.Get().(*[]byte)
	defer s.bufs.Put(bufp)
	buf := *bufp
	oob := make([]byte, syscall.CmsgSpace(3*4))
	n, oobn, flags, _, err := c.ReadMsgUnix(buf, oob)
	files := receivedFiles(oob[:oobn])
	defer func() {
		for _, f := range files {
			_ = f.Close() // Best effort: the caller sees EOF once every copy is closed.
		}
	}()
	if n == 0 && oobn == 0 && (err == nil || errors.Is(err, io.EOF)) {
		return // A probe (is a server up, whose?) that sends nothing.
	}
	asked.Store(true)
	if err == nil && flags&(syscall.MSG_TRUNC|syscall.MSG_CTRUNC) != 0 {
		err = errors.New("request truncated")
	}
	var req callsock.Request
	if err == nil {
		req, err = callsock.Decode(buf[:n])
	}
	if err == nil && peer != nil {
		err = peer
	}
	if err == nil && len(files) != 3 {
		err = fmt.Errorf("request came with %d file descriptors, not 3", len(files))
	}
	if err == nil && !callsock.Routed(req.Args) {
		err = fmt.Errorf("%q is not a call this server answers", req.Args)
	}
	if err == nil {
		var theirs procContext
		if theirs, err = readContext(pid); err == nil {
			if why := theirs.sandboxed(); why != "" {
				err = fmt.Errorf("the caller runs under %s, which the server cannot match", why)
			} else if item := s.self.differs(theirs); item != "" {
				err = fmt.Errorf("the caller runs with another %s than the server", item)
			}
		}
	}
	if err != nil {
		fmt.Fprintln(o.Log, "call server: not taken:", err)
		_, _ = c.Write(callsock.EncodeRefusal(err.Error())) // Best effort: a client gone runs nothing.
		return
	}
	if _, err := c.Write(callsock.EncodeTaken()); err != nil {
		return // Gone before the call began: nothing ran.
	}

	// The call's context ends when its caller goes away, not with the
	// server's: a call is never cut short for the server's sake.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	left := make(chan struct{})
	go func() {
		// The client sends nothing more: a read ends when it goes away
		// (or when the answer is sent and c closes).
		var b [1]byte
		_, _ = c.Read(b[:])
		cancel()
		gone()
		close(left)
	}()
	code := handle(ctx, o.Handle, Call{Request: req, Stdin: files[0], Stdout: files[1], Stderr: files[2]})
	for _, f := range files {
		_ = f.Close() // Before the answer: the caller sees the end of output before the client exits.
	}
	files = nil
	if _, err := c.Write(callsock.EncodeExit(code)); err != nil {
		return // A client gone needs no answer, nor to be waited for.
	}
	// The caller exits on the answer: the housekeeping after the call
	// (AfterCall) waits for its end of c to close, which comes with its
	// exit, after the exit's unmapping of its memory.
	bound := o.LeaveWait
	if bound <= 0 {
		bound = DefaultLeaveWait
	}
	leave := time.NewTimer(bound)
	defer leave.Stop()
	select {
	case <-left:
	case <-leave.C:
	}
}

// handle runs h, turning a panic into exit code 2 and a message on the
// call's stderr, so that one call cannot end the others.
func handle(ctx context.Context, h func(context.Context, Call) int, c Call) (code int) {
	defer func() {
		if p := recover(); p != nil {
			fmt.Fprintf(c.Stderr, "bgtask-call: internal error: %v\n", p)
			code = 2
		}
	}()
	return h(ctx, c)
}

// receivedFiles are the descriptors passed in the control message oob,
// as files (nil if there are none or it does not parse).
func receivedFiles(oob []byte) []*os.File {
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		return nil
	}
	var files []*os.File
	for _, m := range msgs {
		fds, err := syscall.ParseUnixRights(&m)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			syscall.CloseOnExec(fd) // Supervisors the call starts must not hold the caller's pipes.
			files = append(files, os.NewFile(uintptr(fd), fmt.Sprintf("caller fd %d", len(files))))
		}
	}
	return files
}

// idleTimer calls stop once no call has been in flight for d. A probe
// (a connection that asks nothing: `--uninstall` and `doctor` probe every
// server they find) holds it while it lasts, but does not count as a
// call: probes alone never keep a server up (one here stayed up for hours
// while tests probed it).
type idleTimer struct {
	mu     sync.Mutex
	d      time.Duration
	active int
	last   time.Time // when the last call ended, or the server started
	t      *time.Timer
}

func newIdleTimer(d time.Duration, stop func()) *idleTimer {
	return &idleTimer{d: d, last: time.Now(), t: time.AfterFunc(d, stop)}
}

func (it *idleTimer) busy() {
	it.mu.Lock()
	defer it.mu.Unlock()
	it.active++
	it.t.Stop()
}

// done ends what busy began: a call, or a probe (call false).
func (it *idleTimer) done(call bool) {
	it.mu.Lock()
	defer it.mu.Unlock()
	it.active--
	now := time.Now()
	if call {
		it.last = now
	}
	if it.active == 0 {
		it.t.Reset(it.last.Add(it.d).Sub(now)) // At once when that is past.
	}
}
