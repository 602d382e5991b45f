// Command bgtask-call is a toolbox entry (bg-run, bg-status, ...) and
// bg-reaper that hands each call to the resident call server (package
// callserver), a bgtask-tool that stays up between calls: a call then
// costs the start of this small program and a round trip, not the start
// of bgtask-tool. It is installed in place of the links to bgtask-tool,
// beside it, by `bgtask install --resident`.
//
// When no server takes the call (none runs, or it refused the call: see
// package callserver for whom it serves) it runs the call itself, by
// becoming the bgtask-tool beside it (exec, same arguments and
// environment), and, when none ran, starts a server for the next call.
// It never runs a call twice: a call the server took and did not finish
// is reported, not retried. Anything that is not a toolbox entry or
// bg-reaper (a task's supervisor, the command line) goes straight to
// bgtask-tool.
//
// A shell's bg-reaper that has nothing to do (the reaper's list of a
// quiet store says so: see package reaplist) ends here, without a call.
//
// It links package syscall and little else, since its start is the
// floor of every call.
package main

import (
	"os"
	"syscall"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/callsock"
)

// lean is the program that runs calls and servers, beside this one.
const lean = "bgtask-tool"

func main() {
	os.Exit(run(os.Args))
}

func run(args []string) int {
	tool, err := beside(lean)
	if err != nil {
		os.Stderr.WriteString("bgtask-call: " + err.Error() + "\n")
		return 1
	}
	use := true
	switch v := os.Getenv("BG_CALL_SERVER"); v {
	case "", "on":
	case "off":
		use = false
	default:
		if os.Getenv("TOOLBOX_ACTION") == "execute" {
			return refuse("BG_CALL_SERVER=" + v + ": want on or off")
		}
		use = false // A description is no call: Amp must not lose the tool over a setting.
	}
	if nothingToReap(args) {
		return 0 // A shell's start, and nothing for the reaper: no call.
	}
	if use && callsock.Routed(args) {
		code, taken, err := call(tool, args)
		switch {
		case taken && err == nil:
			return code
		case taken:
			return lost(err)
		case err == syscall.ECONNREFUSED && callsock.Name(args[0]) != callsock.Reaper:
			// None runs: one for the next call. Not for a shell's
			// bg-reaper: a terminal opened is no reason to keep a server.
			start(tool)
		}
	}
	// Become bgtask-tool: args[0] stays the entry's name, which is how
	// it tells the tools apart.
	err = syscall.Exec(tool, args, os.Environ())
	os.Stderr.WriteString("bgtask-call: run " + tool + ": " + err.Error() + "\n")
	return 1
}

// beside is the program name in this program's folder.
func beside(name string) (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	for i := len(self) - 1; i >= 0; i-- {
		if self[i] == '/' {
			return self[:i+1] + name, nil
		}
	}
	return name, nil
}

// call hands args to the server for tool. taken is false when the call
// did not run there (none runs, it is not this user's, it refused the
// call, it ended before taking it): the caller may then run it itself.
// err is syscall.ECONNREFUSED when no server listens.
func call(tool string, args []string) (code int, taken bool, err error) {
	addr, err := callsock.Address(tool)
	if err != nil {
		return 0, false, err
	}
	fd, err := callsock.Dial(addr)
	if err != nil {
		return 0, false, err
	}
	wd, _ := os.Getwd() // Best effort: as a process, a tool resolves cwd from it or not at all.
	if err := callsock.Send(fd, callsock.Request{Args: args, Environ: os.Environ(), Wd: wd}, [3]int{0, 1, 2}); err != nil {
		syscall.Close(fd)    // Best effort: the call runs here instead.
		return 0, false, err // A datagram arrives whole or not at all.
	}
	code, taken, err = callsock.Answer(fd)
	if !taken {
		syscall.Close(fd) // Best effort: the call runs here instead.
	}
	// A call taken leaves fd open: the exit closes it, after unmapping
	// this process's memory, and that close is what tells the server
	// it may start its housekeeping (a spare supervisor) without
	// slowing the exit.
	return code, taken, err
}

// refuse reports what stops a call: as an answer when it is a tool's
// (TOOLBOX_ACTION=execute), and on stderr.
func refuse(msg string) int {
	if os.Getenv("TOOLBOX_ACTION") == "execute" {
		os.Stdout.WriteString(`{"error":"` + jsonText(msg) + `"}` + "\n")
	}
	os.Stderr.WriteString("bgtask-call: " + msg + "\n")
	return 1
}

// lost reports a call whose server ended before it answered: the call
// may have done part of its work, so it is not run again.
func lost(err error) int {
	return refuse("the call server ended during the call (" + err.Error() + "); it may have done part of its work")
}

// jsonText escapes s for a JSON string (the few characters an error
// text can hold that JSON does not take as they are).
func jsonText(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, ' ')
		default:
			b = append(b, c)
		}
	}
	return string(b)
}

// start starts a server for the next call, detached (its own session,
// no terminal, standard streams on /dev/null) so that it outlives this
// call. Best effort: without one, calls run as processes.
func start(tool string) {
	null, err := syscall.Open("/dev/null", syscall.O_RDWR|syscall.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	defer syscall.Close(null)
	fd := uintptr(null)
	attr := &syscall.ProcAttr{
		Dir:   "/", // Hold no folder of the caller's.
		Env:   os.Environ(),
		Files: []uintptr{fd, fd, fd},
		Sys:   &syscall.SysProcAttr{Setsid: true},
	}
	restore := closeOnExec()
	_, _ = syscall.ForkExec(tool, []string{tool, callsock.ServeArg}, attr) // Best effort.
	restore()
}

// closeOnExec marks every descriptor above stderr that this process
// inherited close-on-exec, so that the server does not hold them (a
// pipe a caller waits on would then never end), and returns what undoes
// it: bgtask-tool, which this process becomes next, inherits what it
// always did.
func closeOnExec() (restore func()) {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return func() {}
	}
	var marked []int
	for _, e := range ents {
		fd := 0
		for _, c := range []byte(e.Name()) {
			fd = fd*10 + int(c-'0')
		}
		if fd <= 2 {
			continue
		}
		flags, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_GETFD, 0)
		if errno != 0 || flags&syscall.FD_CLOEXEC != 0 {
			continue
		}
		syscall.CloseOnExec(fd)
		marked = append(marked, fd)
	}
	return func() {
		for _, fd := range marked {
			_, _, _ = syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_SETFD, 0) // Best effort.
		}
	}
}
