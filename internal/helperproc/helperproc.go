// Package helperproc lets a test binary play the child processes its
// tests start, as os/exec's own tests do, so no test depends on a system
// program. A test package keeps one Registry, registers its helpers in
// TestMain and hands the run to Registry.Main; a test starts a helper
// with Command (an exec.Cmd) or Shell (a line for bash, for a task's
// command). Which helper a process plays travels in the environment
// variable Env.
//
// A registered helper that no test started fails a full run (one without
// -run, -skip or -short): a helper nobody uses is dead code that still
// reads as if something were tested with it. A test that may skip before
// starting its helper says so with MaySkip.
//
// The package also holds the helpers more than one package plays (Hang,
// Tree, SignalReport, Graceful, Flood, Serve); it imports nothing of the project, so even the
// lowest package's tests can use it.
package helperproc

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Env names the variable that makes the test binary play a helper: its
// value is the helper's name, and the arguments follow the binary's
// name.
const Env = "BGTEST_HELPER"

// Func plays a helper: args are the arguments the test gave, and the
// result is the process's exit code.
type Func func(args []string) int

// Registry holds a test package's helpers. Register them all before Main
// runs; the rest of its methods are safe for tests running in parallel.
type Registry struct {
	funcs map[string]Func
	used  sync.Map // name -> struct{}: started (or allowed to be skipped) by a test.
}

// Register adds a helper under name; a name registered twice is a bug in
// the test package, and panics.
func (r *Registry) Register(name string, f Func) {
	if r.funcs == nil {
		r.funcs = map[string]Func{}
	}
	if _, dup := r.funcs[name]; dup {
		panic("helperproc: helper " + name + " registered twice")
	}
	r.funcs[name] = f
}

// Main is a TestMain: in a process started as a helper it plays the
// helper and exits with its code; otherwise it runs the tests, then fails
// the run when a full run left a registered helper unused.
func (r *Registry) Main(m *testing.M) {
	if name, ok := os.LookupEnv(Env); ok {
		os.Exit(r.play(name))
	}
	quickRaceExit()
	code := m.Run()
	if code == 0 && fullRun() {
		if unused := r.unused(); len(unused) > 0 {
			fmt.Fprintf(os.Stderr, "helperproc: registered helpers no test started: %s\n", strings.Join(unused, ", "))
			code = 1
		}
	}
	os.Exit(code)
}

// quickRaceExit sets GORACE for every process the tests start (helpers,
// task supervisors, the program: this binary, built with -race when the
// tests are) so that it exits without the race runtime's second of sleep
// (atexit_sleep_ms, 1000 by default). A package's tests start hundreds of
// them, and each one's end is waited for: under -race that second was
// most of the suite's time. A child that saw a race still reports it
// while it runs, and exits with an error (66). The test process itself
// started with the GORACE it was given.
func quickRaceExit() {
	if g := os.Getenv("GORACE"); !strings.Contains(g, "atexit_sleep_ms") {
		_ = os.Setenv("GORACE", strings.TrimSpace(g+" atexit_sleep_ms=0")) // Best effort: only slower without it.
	}
}

// play runs the helper name with the binary's arguments.
func (r *Registry) play(name string) int {
	f, ok := r.funcs[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "helperproc: no helper %q registered\n", name)
		return 2
	}
	_ = os.Unsetenv(Env) // Best effort: the helper's own children are not helpers unless it says so.
	return f(os.Args[1:])
}

// fullRun tells whether every test of the package ran: only then is an
// unused helper a sign of dead code.
func fullRun() bool {
	if testing.Short() {
		return false
	}
	for _, name := range []string{"test.run", "test.skip", "test.list"} {
		if f := flag.Lookup(name); f != nil && f.Value.String() != "" {
			return false
		}
	}
	return true
}

func (r *Registry) unused() []string {
	var names []string
	for name := range r.funcs {
		if _, ok := r.used.Load(name); !ok {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// use marks name used, panicking when it was never registered: a typo
// would otherwise start a child that fails in a way far from the cause.
func (r *Registry) use(name string) {
	if _, ok := r.funcs[name]; !ok {
		panic("helperproc: helper " + name + " is not registered")
	}
	r.used.Store(name, struct{}{})
}

// MaySkip marks name used by a test that may skip before starting it
// (a missing system component, -short), so the skip does not fail the
// run.
func (r *Registry) MaySkip(name string) { r.use(name) }

// Command returns a command that runs the test binary as the helper
// name with args, in this process's environment.
func (r *Registry) Command(name string, args ...string) *exec.Cmd {
	return r.CommandContext(context.Background(), name, args...)
}

// CommandContext is Command with a context that kills the helper, by
// PID, when it is done.
func (r *Registry) CommandContext(ctx context.Context, name string, args ...string) *exec.Cmd {
	c := exec.CommandContext(ctx, executable(), args...)
	c.Env = append(os.Environ(), r.EnvFor(name))
	return c
}

// executable is the test binary's path, absolute even when the binary
// was started by a relative name and a test changed directory since.
func executable() string {
	if exe, err := os.Executable(); err == nil {
		return exe
	}
	return os.Args[0] // The path it was started by: right unless a test changed directory.
}

// EnvFor returns the "Env=name" entry that makes the test binary the
// helper name, for a command built by hand (another user, another
// environment).
func (r *Registry) EnvFor(name string) string {
	r.use(name)
	return Env + "=" + name
}

// Shell returns a bash command line that runs the test binary as the
// helper name with args: a task's command.
func (r *Registry) Shell(name string, args ...string) string {
	r.use(name)
	words := []string{Env + "=" + name, quote(executable())}
	for _, a := range args {
		words = append(words, quote(a))
	}
	return strings.Join(words, " ")
}

// quote makes s one word for bash.
func quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Hang prints "ready" and blocks until killed: a process to find, signal
// and kill.
func Hang([]string) int {
	fmt.Println("ready")
	return forever()
}

// SignalReport prints "ready", then appends the name of each SIGTERM and
// SIGWINCH it receives to the file args[0], and never exits on its own:
// what a test needs to see which signals reached a process.
func SignalReport(args []string) int {
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "usage: signal-report FILE")
		return 2
	}
	ch := make(chan os.Signal, 4)
	signal.Notify(ch, syscall.SIGTERM, syscall.SIGWINCH)
	fmt.Println("ready")
	for s := range ch {
		f, err := os.OpenFile(args[0], os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err == nil {
			fmt.Fprintln(f, s)
			_ = f.Close() // Best effort: the test sees a missing line.
		}
	}
	return 0
}

// Graceful prints "ready", then on SIGTERM writes "terminated" to the
// file args[0] and exits 0: a process whose handler must get to run.
func Graceful(args []string) int {
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "usage: graceful FILE")
		return 2
	}
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGTERM)
	fmt.Println("ready")
	<-ch
	if err := os.WriteFile(args[0], []byte("terminated\n"), 0o600); err != nil {
		return 1
	}
	return 0
}

// Tree plays a three-level process tree, as dev servers and test runners
// make them: the root starts "mid" and waits; mid starts the leaf in a
// new session (setsid, out of the root's process group) and waits; the
// leaf hangs. Each prints "<level> PID" first. Options in args:
//
//	stubborn  the leaf ignores SIGTERM
//	daemon    mid exits once the leaf runs, leaving it orphaned (a double fork)
//
// The levels below the root run the test binary again with the level
// first in their arguments; the environment still names the helper.
func Tree(args []string) int {
	level := "tree"
	if len(args) > 0 && (args[0] == "mid" || args[0] == "leaf") {
		level, args = args[0], args[1:]
	}
	if level == "leaf" {
		if slices.Contains(args, "stubborn") {
			signal.Ignore(syscall.SIGTERM)
		}
		fmt.Printf("leaf %d\n", os.Getpid())
		return forever()
	}
	// Its line before the next level starts: the leaf's is then the
	// tree's last line (the reaper's notification quotes it), where
	// printing after the start raced with the leaf's.
	fmt.Printf("%s %d\n", level, os.Getpid())
	next := map[string]string{"tree": "mid", "mid": "leaf"}[level]
	c := exec.Command(executable(), append([]string{next}, args...)...)
	c.Env = append(os.Environ(), Env+"=tree")
	c.Stdout, c.Stderr = os.Stdout, os.Stderr
	c.SysProcAttr = &syscall.SysProcAttr{Setsid: level == "mid"}
	if err := c.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "start", next+":", err)
		return 1
	}
	if level == "mid" && slices.Contains(args, "daemon") {
		return 0
	}
	_ = c.Wait() // Only to stay alive: the test kills the tree.
	return forever()
}

// forever blocks until the process is killed. A bare select{} would be
// ended by the runtime's deadlock check in a process with nothing else
// to run.
func forever() int {
	for {
		time.Sleep(time.Hour)
	}
}

// Flood N SEED writes N bytes of FloodBytes(N, SEED) to stdout as fast as
// it can.
func Flood(args []string) int {
	n, _ := strconv.Atoi(args[0])
	seed, _ := strconv.ParseUint(args[1], 10, 64)
	if _, err := os.Stdout.Write(FloodBytes(n, seed)); err != nil {
		return 1
	}
	return 0
}

// Serve ADDR DELAY [crash] is an HTTP server ready after DELAY, or a
// server that fails to listen after DELAY, as a dev server does.
func Serve(args []string) int {
	d, _ := time.ParseDuration(args[1])
	time.Sleep(d)
	if len(args) > 2 && args[2] == "crash" {
		fmt.Fprintln(os.Stderr, "Error: listen EADDRINUSE: address already in use "+args[0])
		return 3
	}
	l, err := net.Listen("tcp", args[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("ready on http://%s\n", args[0])
	_ = http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") }))
	return 1
}

// FloodBytes is deterministic printable output of varying line lengths.
func FloodBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 2))
	b := make([]byte, 0, n)
	for len(b) < n {
		for i, l := 0, r.IntN(300); i < l && len(b) < n-1; i++ {
			b = append(b, byte(' '+r.IntN(95)))
		}
		b = append(b, '\n')
	}
	return b[:n]
}
