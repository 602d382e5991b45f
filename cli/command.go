package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/amp-bg-tasks/amp-bg-tasks/stack"
	"github.com/amp-bg-tasks/amp-bg-tasks/toolbox"
)

// Command is one subcommand of the human command line: its arguments
// and an example for --help, and a run function that declares its flags
// on fs, parses args and does the work. Its usage line is derived from
// the flags it declares and Args, so a new flag shows at once. Run
// returns ErrUsage for a command line that does not fit the usage;
// everything else is reported as it is.
type Command struct {
	// Name is what is typed after bgtask. Names starting with "__" are
	// hidden helpers (for completion scripts).
	Name string
	// Args is the synopsis of its arguments, after the flags
	// ("ID|LABEL...", "[--] COMMAND..."); "" for none.
	Args string
	// Summary is one line for the overview.
	Summary string
	// Example is one or more command lines that show it in use.
	Example string
	Run     func(ctx context.Context, a *toolbox.App, fs *flag.FlagSet, args []string) error
	// parse is the process-compose parser a build links (see
	// StackCommand); nil in every other command.
	parse stack.ParseFunc
}

// ErrUsage makes Run print the command's usage.
var ErrUsage = errors.New("usage")

// commandSet is the commands of one command line: every build's, then
// the extra ones (the full bgtask adds install, mcp, doctor and top).
func commandSet(extra []Command) []Command {
	cmds := []Command{
		{Name: "run", Args: "[--] COMMAND...", Summary: "start a command in the background (here, or on another machine over ssh)",
			Example: "bgtask run --label web --wait-port 5173 -- npm run dev\nbgtask run --host devbox -- make test\nid=$(bgtask run --label tests --timeout 20 -- 'go test ./... 2>&1')\nbgtask run --label repl --interactive -- python3", Run: cliRun},
		{Name: "ls", Summary: "list tasks: running ones and the 10 newest finished",
			Example: "bgtask ls\nbgtask ls --all --json | jq -r '.tasks[].task_id'", Run: cliList},
		{Name: "status", Args: "[ID|LABEL]", Summary: "one task in detail: processes, ports, memory, output (without one: ls)",
			Example: "bgtask status web\nbgtask status --all", Run: cliStatus},
		{Name: "logs", Args: "ID|LABEL...", Summary: "print or follow a task's output (several, or --all services of the project, together: `api | ...`)",
			Example: "bgtask logs web -f\nbgtask logs --all -f\nbgtask logs api worker -n 20\nbgtask logs web -n 50 --filter 'error|warn'\nbgtask logs tests --digest", Run: cliLogs},
		{Name: "stop", Args: "ID|LABEL...", Summary: "stop tasks and every process they started",
			Example: "bgtask stop web\nbgtask stop --all", Run: cliStop},
		{Name: "restart", Args: "ID|LABEL", Summary: "run a task's command again under the same id, into the same logs",
			Example: "bgtask restart web", Run: cliRestart},
		{Name: "up", Args: "[NAME...]", Summary: "start the project's services (Procfile, process-compose.yaml) in order, each once what it needs is ready",
			Example: "bgtask up\nbgtask up web\nbgtask up --wait-seconds 120 api worker", Run: cliUp},
		{Name: "down", Args: "[NAME...]", Summary: "stop the project's services, dependents first",
			Example: "bgtask down\nbgtask down worker", Run: cliDown},
		{Name: "save", Summary: "write the tasks running in this folder as a process-compose.yaml that bgtask up starts again",
			Example: "bgtask save\nbgtask save --force", Run: cliSave},
		{Name: "send", Args: "ID|LABEL [TEXT...]", Summary: "type into an interactive task",
			Example: "bgtask send repl 'print(1+1)'\nbgtask send repl --key ctrl-c", Run: cliSend},
		{Name: "rm", Args: "ID|LABEL...", Summary: "remove finished tasks and their logs",
			Example: "bgtask rm tests\nbgtask rm --all", Run: cliRm},
		{Name: "watch", Args: "ID|LABEL", Summary: "print one line per event of a task (new output lines, ready, restarting, ended) until it ends: for Claude Code's Monitor tool",
			Example: "bgtask watch web --filter 'error|warn'\nbgtask watch tests", Run: cliWatch},
		{Name: "port", Args: "PORT", Summary: "who listens on a port here: one of our tasks, or another program (never signalled)",
			Example: "bgtask port 3000\nbgtask port 5173 --json", Run: cliPort},
		{Name: "hosts", Summary: "the other machines used: reachable, bgtask version there, running tasks",
			Example: "bgtask hosts\nbgtask run --host devbox -- make test", Run: cliHosts},
		{Name: "reap", Summary: "kill orphaned tasks and overdue ones, clean old records (also installed as bg-reaper)",
			Example: "bgtask reap --dry-run\nbg-reaper --max-age 180 --quiet", Run: cliReap},
		{Name: "completion", Args: "bash|zsh|fish", Summary: "print the shell completion script",
			Example: "source <(bgtask completion bash)", Run: cliCompletion},
		{Name: "__refs", Run: cliRefs},
	}
	return append(cmds, extra...)
}

// commandsKey carries the commands of the command line a command runs
// in, for those that describe them all (completion).
type commandsKey struct{}

// commandsOf returns the commands of the command line ctx runs in: every
// build's when it is not one.
func commandsOf(ctx context.Context) []Command {
	if cmds, ok := ctx.Value(commandsKey{}).([]Command); ok {
		return cmds
	}
	return commandSet(nil)
}

func findCommand(cmds []Command, name string) (Command, bool) {
	i := slices.IndexFunc(cmds, func(c Command) bool { return c.Name == name })
	if i < 0 {
		return Command{}, false
	}
	return cmds[i], true
}

// usageLine is c's synopsis, after the program name: its name, each flag
// it declared on fs, then its arguments.
func usageLine(c Command, fs *flag.FlagSet) string {
	parts := []string{c.Name}
	fs.VisitAll(func(f *flag.Flag) {
		parts = append(parts, "["+flagSynopsis(f)+"]")
	})
	if c.Args != "" {
		parts = append(parts, c.Args)
	}
	return strings.Join(parts, " ")
}

// flagSynopsis is how f is typed: --all, -n N, --stream both|stdout|stderr.
func flagSynopsis(f *flag.Flag) string {
	dash := "--"
	if len(f.Name) == 1 {
		dash = "-"
	}
	if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
		return dash + f.Name
	}
	return dash + f.Name + " " + placeholder(f)
}

// placeholder names the value a flag takes: its choices when they are
// few, N for a number, TEXT otherwise.
func placeholder(f *flag.Flag) string {
	if pv, ok := f.Value.(*paramValue); ok {
		switch {
		case len(pv.p.Enum) > 0 && len(pv.p.Enum) <= 4:
			return strings.Join(pv.p.Enum, "|")
		case pv.p.Type == "number" || pv.p.Type == "integer":
			return "N"
		}
		return "TEXT"
	}
	if _, err := strconv.ParseFloat(f.DefValue, 64); err == nil {
		return "N"
	}
	return "TEXT"
}

// printOverview prints what `bgtask --help` shows.
func printOverview(w io.Writer, name string, cmds []Command) {
	fmt.Fprintf(w, "%s runs long commands in the background for coding agents.\n\nUsage:\n", name)
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	for _, c := range cmds {
		if !strings.HasPrefix(c.Name, "__") {
			fmt.Fprintf(tw, "  %s %s\t%s\n", name, c.Name, c.Summary)
		}
	}
	fmt.Fprintf(tw, "  %s --version\tprint the version\n", name)
	_ = tw.Flush() // Nowhere to report a failed write.
	fmt.Fprintf(w, "\nRun '%s COMMAND --help' for a command's options and an example.\n"+
		"Installed as bg-run, bg-status, bg-output, bg-stop and bg-send it speaks the Amp\n"+
		"toolbox protocol (TOOLBOX_ACTION=describe|execute).\n", name)
}

// printUsage prints a command's usage line, its flags (spelled with two
// dashes, as the README writes them; the flag package accepts both) and
// its example.
func printUsage(w io.Writer, name string, c Command, fs *flag.FlagSet) {
	usage := usageLine(c, fs)
	if name == c.Name || strings.HasSuffix(name, "-"+c.Name) || strings.HasSuffix(name, "-reaper") {
		usage = strings.TrimPrefix(strings.TrimPrefix(usage, c.Name), " ")
	}
	fmt.Fprintf(w, "Usage: %s %s\n", name, usage)
	if c.Summary != "" {
		fmt.Fprintf(w, "\n%s.\n", strings.ToUpper(c.Summary[:1])+c.Summary[1:])
	}
	var flags bool
	fs.VisitAll(func(f *flag.Flag) {
		if !flags {
			fmt.Fprintln(w, "\nOptions:")
			flags = true
		}
		def := ""
		if f.DefValue != "" && f.DefValue != "false" {
			def = fmt.Sprintf(" (default %s)", f.DefValue)
		}
		dash := "--"
		if len(f.Name) == 1 {
			dash = "-"
		}
		fmt.Fprintf(w, "  %s%s\n        %s%s\n", dash, f.Name, f.Usage, def)
	})
	if c.Example != "" {
		fmt.Fprintln(w, "\nExample:")
		for _, line := range strings.Split(c.Example, "\n") {
			fmt.Fprintf(w, "  %s\n", line)
		}
	}
}

// Run runs the human command line `name args...` (bgtask run ...) in a,
// with the commands every build has and extra, and returns its exit
// code.
func Run(ctx context.Context, a *toolbox.App, name string, args []string, extra ...Command) toolbox.ExitCode {
	cmds := commandSet(extra)
	ctx = context.WithValue(ctx, commandsKey{}, cmds)
	if a.ParseStack == nil {
		a.ParseStack = stackParser(cmds)
	}
	if len(args) > 0 && (args[0] == "--version" || args[0] == "version") {
		if len(args) > 1 {
			fmt.Fprintf(a.Stderr, "%s %s: takes no arguments, got %q\n", name, args[0], args[1])
			return toolbox.ExitError
		}
		fmt.Fprintln(a.Stdout, "bgtask", toolbox.Version())
		return toolbox.ExitOK
	}
	if len(args) > 1 && args[0] == "help" {
		args = []string{args[1], "--help"} // bgtask help logs: the help of logs.
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		if len(args) == 0 {
			printOverview(a.Stderr, name, cmds)
			return toolbox.ExitError
		}
		printOverview(a.Stdout, name, cmds)
		return toolbox.ExitOK
	}
	cmd, ok := findCommand(cmds, args[0])
	if !ok {
		fmt.Fprintf(a.Stderr, "%s: unknown command %q (%s --help lists them)\n", name, args[0], name)
		return toolbox.ExitError
	}
	fs := flag.NewFlagSet(name+" "+args[0], flag.ContinueOnError)
	help := slices.ContainsFunc(args[1:], func(s string) bool { return s == "-h" || s == "--help" || s == "-help" })
	if help {
		fs.SetOutput(a.Stdout) // Asked for: it is the answer.
	} else {
		fs.SetOutput(io.Discard) // The error is printed once, below, with the usage.
	}
	badFlag := false // The flag package calls Usage on every parse error.
	fs.Usage = func() {
		if help {
			printUsage(a.Stdout, name, cmd, fs)
		} else {
			badFlag = true
		}
	}
	err := cmd.Run(ctx, a, fs, args[1:])
	switch {
	case err == nil:
		return toolbox.ExitOK
	case errors.Is(err, flag.ErrHelp):
		return toolbox.ExitOK
	case errors.Is(err, ErrUsage):
		fmt.Fprintf(a.Stderr, "Usage: %s %s\n(%s %s --help for more)\n", name, usageLine(cmd, fs), name, cmd.Name)
	case badFlag:
		fmt.Fprintf(a.Stderr, "%s %s: %v\nUsage: %s %s\n(%s %s --help for more)\n", name, args[0], err, name, usageLine(cmd, fs), name, cmd.Name)
	default:
		fmt.Fprintf(a.Stderr, "%s %s: %v\n", name, args[0], cliError(err, fs))
	}
	return toolbox.ExitError
}

// cliError words a tool's error for the command line (see peopleWords):
// a parameter given as a flag is named as the flag (--wait-port, not
// wait_port); a task, given as an argument, is named by the message
// itself.
func cliError(err error, fs *flag.FlagSet) error {
	var pe *toolbox.PortInUseError
	if errors.As(err, &pe) && pe.Param != "" {
		without := *pe
		without.Param = "" // Named below, as typed.
		err = &toolbox.InputError{Param: pe.Param, Msg: without.Error()}
	}
	var ie *toolbox.InputError
	if !errors.As(err, &ie) {
		return errors.New(peopleWords(err.Error()))
	}
	msg := peopleWords(ie.Msg)
	switch {
	case ie.Param == "" || ie.Param == "task_id":
		return errors.New(msg)
	case fs.Lookup(flagName(ie.Param)) != nil:
		return fmt.Errorf("%s: %s", cliName(ie.Param), msg)
	}
	return fmt.Errorf("%s: %s", strings.ToUpper(ie.Param), msg) // An argument: TEXT, COMMAND.
}
