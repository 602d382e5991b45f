package toolbox

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/envlist"
	"github.com/amp-bg-tasks/amp-bg-tasks/procs"
	"github.com/amp-bg-tasks/amp-bg-tasks/remote"
	"github.com/amp-bg-tasks/amp-bg-tasks/stack"
	"github.com/amp-bg-tasks/amp-bg-tasks/supervisor"
)

// LeanCommand is the name of the lean build (cmd/bgtask-tool): the
// toolbox entries and bg-reaper link to it, and tasks started by bgtask
// are supervised by it when it is installed beside bgtask.
const LeanCommand = "bgtask-tool"

// ExitCode is what Main returns for os.Exit.
type ExitCode int

const (
	ExitOK    ExitCode = 0
	ExitError ExitCode = 1
)

// App is everything a command needs from its surroundings, so tests can
// run it in-process against a temporary state folder.
type App struct {
	Store  supervisor.Store
	Getenv func(string) string
	// Environ is passed to the supervisor and, through it, the command.
	Environ []string
	Stdin   io.Reader
	Stdout  io.Writer
	Stderr  io.Writer
	// Executable is this program, which the installer installs and which
	// runs tasks' supervisors; empty means os.Executable(), with the lean
	// build beside it preferred for supervisors.
	Executable string
	// Wd resolves relative cwd parameters, and is the default cwd.
	Wd string
	// Now is the clock, for status ages.
	Now func() time.Time
	// ParseStack parses process-compose files: the full bgtask links a
	// parser (stack/compose); nil in the lean build, which asks the full
	// bgtask's hidden __stack command instead (see loadStack).
	ParseStack stack.ParseFunc
	// Procs, when set, remembers processes across the list's readings of
	// the process table, for a caller that lists again and again (bgtask
	// top); nil reads the table afresh each time.
	Procs *procs.Snapshotter
	// Records, when set, remembers task records across lists for the
	// same caller: a record is read again only when its folder or status
	// changed (see supervisor.RecordCache); nil reads each afresh.
	Records *supervisor.RecordCache
	// Later, when set, takes work that no caller needs to wait for, to
	// run after the call has been answered (a process answering many
	// calls has it: Resident.AfterCall). Without it, what must be done
	// is done during the call, and what only saves later calls work
	// (the ended index) is not done.
	Later func(func())
}

// NewApp returns an App for this process's environment.
func NewApp(stdin io.Reader, stdout, stderr io.Writer) (*App, error) {
	return ProcessInvocation(nil, stdin, stdout, stderr).App()
}

// Invocation is one run of the program as its surroundings made it: a
// process's own (ProcessInvocation), or a call that the resident call
// server (package callserver) answers for another process.
type Invocation struct {
	Args    []string // Args[0] is the name it was called by
	Environ []string // "K=V"
	Wd      string   // the working folder; "" if unknown
	Stdin   io.Reader
	Stdout  io.Writer
	Stderr  io.Writer
	// Resident, when set, is what the process answering this call keeps
	// between calls; nil for a process that answers one.
	Resident *Resident
}

// Resident is what a process that answers many calls (the call server)
// keeps from one call to the next: the records of the tasks it listed,
// per state folder, a spare supervisor for the next task (see
// supervisor.Spares), and a staging folder made ahead for it in each
// state folder whose tasks are started in a burst (see
// supervisor.PreparedFolders). Calls running at once share it.
type Resident struct {
	spares   *supervisor.Spares
	prepared *supervisor.PreparedFolders
	mu       sync.Mutex
	records  map[string]*supervisor.RecordCache
	later    []func() // housekeeping the calls left for AfterCall (App.Later)
}

// NewResident returns a Resident that remembers nothing yet, and starts
// a spare supervisor of exe (this program) for the first task.
func NewResident(exe string) *Resident {
	r := &Resident{
		spares:   supervisor.NewSpares(exe, os.Environ()),
		prepared: supervisor.NewPreparedFolders(),
		records:  map[string]*supervisor.RecordCache{},
	}
	r.spares.Fill()
	return r
}

// AfterCall is the housekeeping after a call has been answered: a spare
// supervisor for the next task, if the call took the last one, what the
// calls left for later (App.Later), and a staging folder made ahead
// where starts come in a burst.
func (r *Resident) AfterCall() {
	// The spares that started tasks go on first: their commands' output
	// waits for them. Then what the calls left.
	r.spares.Answered()
	r.mu.Lock()
	later := r.later
	r.later = nil
	r.mu.Unlock()
	for _, f := range later {
		f()
	}
	r.spares.Fill()
	r.prepared.Fill()
}

// runLater keeps f for the next AfterCall.
func (r *Resident) runLater(f func()) {
	r.mu.Lock()
	r.later = append(r.later, f)
	r.mu.Unlock()
}

// Close ends the spare supervisor and removes the folders made ahead.
func (r *Resident) Close() {
	r.spares.Close()
	r.prepared.Close()
}

// recordsIn is the record cache of the state folder dir.
func (r *Resident) recordsIn(dir string) *supervisor.RecordCache {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.records[dir]
	if !ok {
		c = supervisor.NewRecordCache()
		r.records[dir] = c
	}
	return c
}

// ProcessInvocation is this process's invocation with args.
func ProcessInvocation(args []string, stdin io.Reader, stdout, stderr io.Writer) Invocation {
	wd, _ := os.Getwd() // Best effort: an absolute cwd parameter still works.
	return Invocation{Args: args, Environ: os.Environ(), Wd: wd, Stdin: stdin, Stdout: stdout, Stderr: stderr}
}

// App returns the App for inv: its state folder and settings from its
// environment.
func (inv Invocation) App() (*App, error) {
	dir, err := supervisor.DefaultDir(EnvGetter(inv.Environ))
	if err != nil {
		return nil, err
	}
	a := NewAppIn(dir, inv.Wd, inv.Environ, inv.Stdin, inv.Stdout, inv.Stderr)
	if inv.Resident != nil {
		a.Records = inv.Resident.recordsIn(dir)
		a.Store.Spares = inv.Resident.spares
		a.Store.Prepared = inv.Resident.prepared
		a.Later = inv.Resident.runLater
	}
	return a, nil
}

// NewAppIn returns an App whose tasks live in the state folder dir, whose
// settings come from environ (as "K=V" entries), which its tasks inherit,
// and whose relative cwd parameters resolve from wd: an App for an
// environment other than this process's, such as a test's.
func NewAppIn(dir, wd string, environ []string, stdin io.Reader, stdout, stderr io.Writer) *App {
	return &App{
		Store:  supervisor.Store{Dir: dir},
		Getenv: EnvGetter(environ), Environ: environ,
		Stdin: stdin, Stdout: stdout, Stderr: stderr,
		Wd: wd, Now: time.Now,
	}
}

// EnvGetter is a getenv over environ ("K=V" entries, the last one of a
// name winning, as exec does), for an App that runs with an environment
// other than this process's.
func EnvGetter(environ []string) func(string) string {
	return func(k string) string {
		for i := len(environ) - 1; i >= 0; i-- {
			if v, ok := strings.CutPrefix(environ[i], k+"="); ok {
				return v
			}
		}
		return ""
	}
}

// supervisorExecutable is what runs a task's supervisor: this program,
// or the lean build installed beside it, which starts sooner and holds
// less memory for the task's whole life. "" lets the supervisor package
// use this program.
func (a *App) supervisorExecutable() string {
	if a.Executable != "" {
		return a.Executable
	}
	self, err := os.Executable()
	if err != nil || filepath.Base(self) == LeanCommand {
		return ""
	}
	return LeanBeside(self)
}

// LeanBeside returns the lean build installed in the folder of the
// program at path, "" when there is none there.
func LeanBeside(path string) string {
	lean := filepath.Join(filepath.Dir(path), LeanCommand)
	if fi, err := os.Stat(lean); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
		return lean
	}
	return ""
}

// Serve runs what args asks of the lean program that is not the
// people's command line: a task's supervisor (args[1] is
// supervisor.SuperviseArg), or a tool under its toolbox entry name
// (bg-run, ...; TOOLBOX_ACTION says describe or execute). ok is false
// for anything else, which is the command line's (package cli). parse is
// the build's process-compose parser, nil for none (see App.ParseStack).
func Serve(args []string, stdin io.Reader, stdout, stderr io.Writer, parse stack.ParseFunc) (code ExitCode, ok bool) {
	if len(args) > 1 && args[1] == supervisor.SuperviseArg {
		return superviseMain(args[2:], stderr), true
	}
	return ServeIn(context.Background(), ProcessInvocation(args, stdin, stdout, stderr), parse)
}

// ServeIn runs the tool that inv names by its toolbox entry name (bg-run,
// ...; TOOLBOX_ACTION in its environment says describe or execute); ok
// is false when inv names no tool.
func ServeIn(ctx context.Context, inv Invocation, parse stack.ParseFunc) (code ExitCode, ok bool) {
	tool := ToolByCommand(filepath.Base(inv.Args[0]))
	if tool == nil {
		return 0, false
	}
	app, err := inv.App()
	if err != nil {
		return writeError(inv.Stdout, err), true
	}
	app.ParseStack = parse
	return app.ServeToolbox(ctx, tool, app.Getenv("TOOLBOX_ACTION")), true
}

// ServeToolbox speaks the Amp toolbox protocol for one tool: "describe"
// prints its name, description and input schema; "execute" reads one
// JSON object of parameters from stdin and prints one JSON result, or
// {"error": ...} with exit code 1.
func (a *App) ServeToolbox(ctx context.Context, t *Tool, action string) ExitCode {
	switch action {
	case "describe":
		code := writeJSON(a.Stdout, map[string]any{"name": t.Name, "description": t.Description, "inputSchema": t.Schema()})
		// Amp reads a description until it sees us exit: exiting before
		// it has read the pipe loses the tool. Wait (bounded) until the
		// pipe is drained; execute pays nothing of this. The bound is
		// generous: a busy machine's Node took over 500 ms to read
		// (amp-toolbox-test.sh lost bg_stop in 2 of 40 listings at load
		// 40), and the wait ends as soon as the pipe is read.
		waitDrained(a.Stdout, 5*time.Second)
		return code
	case "execute":
		if a.Getenv(remote.CallerEnv) == remote.CallerSSH {
			return a.serveSSHCaller(ctx, t)
		}
		raw, err := io.ReadAll(a.Stdin)
		if err != nil {
			return writeError(a.Stdout, fmt.Errorf("read input: %w", err))
		}
		if ctx.Err() != nil {
			return ExitError // The caller went away while its input came (see gone below): run nothing.
		}
		ctx, delivery := WithDelivery(ctx)
		res, err := a.Execute(ctx, t, raw)
		code := ExitOK
		if err != nil {
			res, _ = marshal(map[string]string{"error": err.Error()}) // A map of strings always marshals.
			code = ExitError
		}
		if a.underAmp() {
			if safe, err := ampSafe(res); err == nil {
				res = safe
			}
		}
		// gone: the caller went away during the call, which only a call
		// the call server answers for a process can see (a process's own
		// context never ends): as a killed process would have, write
		// nothing, and take no lines from it.
		gone := func() bool { return ctx.Err() != nil }
		if gone() {
			delivery.Undo()
			return ExitError
		}
		if _, err := fmt.Fprintf(a.Stdout, "%s\n", bytes.TrimSpace(res)); err != nil || gone() {
			delivery.Undo() // Nobody got these lines.
			return ExitError
		}
		return code
	default:
		return writeError(a.Stdout, fmt.Errorf("TOOLBOX_ACTION must be describe or execute, got %q", action))
	}
}

// Call validates raw input and runs the tool: the typed answer, for the
// protocols that carry raw JSON in (see Invoke for a typed call).
func (a *App) Call(ctx context.Context, t *Tool, raw []byte) (any, error) {
	in, err := t.Decode(raw)
	if err != nil {
		return nil, err
	}
	return t.Run(ctx, a, in)
}

func writeJSON(w io.Writer, v any) ExitCode {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // Logs are full of <, > and &.
	if err := enc.Encode(v); err != nil {
		return ExitError
	}
	return ExitOK
}

func writeError(w io.Writer, err error) ExitCode {
	_ = writeJSON(w, map[string]string{"error": err.Error()}) // Nothing better to do if stdout is gone.
	return ExitError
}

// superviseMain is the hidden entry point of a task's supervisor process.
func superviseMain(args []string, stderr io.Writer) ExitCode {
	logger := log.New(stderr, "supervisor: ", log.LstdFlags|log.LUTC)
	var ahead *supervisor.Ahead
	var job supervisor.Job
	switch {
	case len(args) == 1 && args[0] == supervisor.SpareArg:
		// A spare (see supervisor.Spares): its task, and its caller's
		// environment, come now; stderr goes to the task's log then.
		ahead = supervisor.PrepareSpare(context.Background())
		var err error
		if job, err = ahead.TakeJob(); err != nil {
			return ExitOK // Its server ended, or it was stopped, before it had a task.
		}
	case len(args) == 2:
		job = supervisor.Job{Staging: args[0], Dir: args[1]}
	default:
		logger.Printf("usage: %s <staging> <task folder>", supervisor.SuperviseArg)
		return ExitError
	}
	a := &App{Getenv: os.Getenv, Environ: os.Environ()}
	if job.Env != nil {
		// A spare's: the caller's environment, which becomes the
		// process's own only once the command runs (supervisor.Ahead).
		a = &App{Getenv: func(k string) string { return envlist.Get(job.Env, k) }, Environ: job.Env}
	}
	// bg_run checked the settings in this environment before starting
	// the task: a bad one here is only logged, the defaults stand in.
	settings, err := a.Settings()
	if err != nil {
		logger.Print(err)
	}
	sv := &supervisor.Supervisor{
		Staging: job.Staging, Dir: job.Dir, Record: job.Record,
		Ready: os.NewFile(3, "ready"),
		Env:   a.Environ,
		Grace: settings.KillGrace,
		Log:   logger,
		Ahead: ahead,
		// The outcome is recorded before this runs; a notification that
		// fails or hangs is logged and bounded, never holds the task.
		OnRestart: func(ctx context.Context, t *supervisor.Task) {
			if err := a.notifyRestart(ctx, t); err != nil {
				logger.Print(err)
			}
		},
		OnFinish: func(ctx context.Context, t *supervisor.Task) {
			if err := a.NotifyEnd(ctx, t); err != nil {
				logger.Print(err)
			}
		},
	}
	if err := sv.Run(context.Background()); err != nil {
		logger.Print(err)
		return ExitError
	}
	return ExitOK
}
