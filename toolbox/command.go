package toolbox

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/amp-bg-tasks/amp-bg-tasks/stack"
)

// Command is one subcommand of the human command line: its usage, an
// example for --help, and a run function that declares its flags on fs,
// parses args and does the work. Run returns ErrUsage for a command line
// that does not fit the usage; everything else is reported as it is.
type Command struct {
	// Name is what is typed after bgtask. Names starting with "__" are
	// hidden helpers (for completion scripts).
	Name string
	// Usage is the synopsis after the program name.
	Usage string
	// Summary is one line for the overview.
	Summary string
	// Example is one or more command lines that show it in use.
	Example string
	Run     func(ctx context.Context, a *App, fs *flag.FlagSet, args []string) error
	// parse is the process-compose parser a build links (see
	// StackCommand); nil in every other command.
	parse stack.ParseFunc
}

// ErrUsage makes CLI print the command's usage.
var ErrUsage = errors.New("usage")

// errUsage is ErrUsage under its old name, for the commands in this package.
var errUsage = ErrUsage

// baseCommands are the commands every build has; the full bgtask adds
// install, mcp and doctor through App.Commands.
func baseCommands() []Command {
	return []Command{
		{Name: "run", Usage: "run [--label L] [--cwd DIR] [--timeout MIN] [--replace] [--interactive] [--wait-for RE|--wait-port N|--wait-url URL] [--wait-seconds S] [--notify WHEN] [--host HOST] [--] COMMAND...", Summary: "start a command in the background (here, or on another machine over ssh)",
			Example: "bgtask run --label web --wait-port 5173 -- npm run dev\nbgtask run --host devbox -- make test\nid=$(bgtask run --label tests --timeout 20 -- 'go test ./... 2>&1')\nbgtask run --label repl --interactive -- python3", Run: cliRun},
		{Name: "ls", Usage: "ls [--all] [--json]", Summary: "list tasks: running ones and the 10 newest finished",
			Example: "bgtask ls\nbgtask ls --all --json | jq -r '.tasks[].task_id'", Run: cliList},
		{Name: "status", Usage: "status [ID|LABEL] [--wait-seconds S] [--json]", Summary: "one task in detail: processes, ports, memory, output (without one: ls)",
			Example: "bgtask status web", Run: cliStatus},
		{Name: "logs", Usage: "logs ID|LABEL [-f] [-n N] [--stream both|stdout|stderr] [--raw] [--filter RE] [--exclude RE] [--context N] [--clean] [--digest] [--since] [--wait-seconds S] ...", Summary: "print or follow a task's output",
			Example: "bgtask logs web -f\nbgtask logs web -n 50 --filter 'error|warn'\nbgtask logs tests --digest", Run: cliLogs},
		{Name: "stop", Usage: "stop ID|LABEL...|--all", Summary: "stop tasks and every process they started",
			Example: "bgtask stop web\nbgtask stop --all", Run: cliStop},
		{Name: "restart", Usage: "restart ID|LABEL", Summary: "stop a task and run its command again in its place",
			Example: "bgtask restart web", Run: cliRestart},
		{Name: "send", Usage: "send ID|LABEL [--key KEY] [--enter=false] [TEXT...]", Summary: "type into an interactive task",
			Example: "bgtask send repl 'print(1+1)'\nbgtask send repl --key ctrl-c", Run: cliSend},
		{Name: "rm", Usage: "rm ID|LABEL...|--all", Summary: "remove finished tasks and their logs",
			Example: "bgtask rm tests\nbgtask rm --all", Run: cliRm},
		{Name: "hosts", Usage: "hosts [--json]", Summary: "the other machines used: reachable, bgtask version there, running tasks",
			Example: "bgtask hosts\nbgtask run --host devbox -- make test", Run: cliHosts},
		{Name: "reap", Usage: "reap [--max-age MIN] [--dry-run] [--quiet]", Summary: "kill orphaned tasks and overdue ones, clean old records (also installed as bg-reaper)",
			Example: "bgtask reap --dry-run\nbg-reaper --max-age 180 --quiet", Run: cliReap},
		{Name: "completion", Usage: "completion bash|zsh|fish", Summary: "print the shell completion script",
			Example: "source <(bgtask completion bash)", Run: cliCompletion},
		{Name: "__refs", Usage: "__refs", Run: cliRefs},
	}
}

// commands are this App's commands: the base ones, then App.Commands.
func (a *App) commands() []Command {
	return append(baseCommands(), a.Commands...)
}

func (a *App) command(name string) (Command, bool) {
	i := slices.IndexFunc(a.commands(), func(c Command) bool { return c.Name == name })
	if i < 0 {
		return Command{}, false
	}
	return a.commands()[i], true
}

// printOverview prints what `bgtask --help` shows.
func (a *App) printOverview(w io.Writer, name string) {
	fmt.Fprintf(w, "%s runs long commands in the background for coding agents.\n\nUsage:\n", name)
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	for _, c := range a.commands() {
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
	if name == c.Name || strings.HasSuffix(name, "-"+c.Name) || strings.HasSuffix(name, "-reaper") {
		fmt.Fprintf(w, "Usage: %s %s\n", name, strings.TrimPrefix(c.Usage, c.Name+" "))
	} else {
		fmt.Fprintf(w, "Usage: %s %s\n", name, c.Usage)
	}
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

// CLI runs the human command line: `bgtask <command> ...`.
func (a *App) CLI(ctx context.Context, name string, args []string) ExitCode {
	if len(args) > 0 && (args[0] == "--version" || args[0] == "version") {
		fmt.Fprintln(a.Stdout, "bgtask", Version())
		return ExitOK
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		if len(args) == 0 {
			a.printOverview(a.Stderr, name)
			return ExitError
		}
		a.printOverview(a.Stdout, name)
		return ExitOK
	}
	cmd, ok := a.command(args[0])
	if !ok {
		fmt.Fprintf(a.Stderr, "%s: unknown command %q (%s --help lists them)\n", name, args[0], name)
		return ExitError
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
		return ExitOK
	case errors.Is(err, flag.ErrHelp):
		return ExitOK
	case errors.Is(err, ErrUsage):
		fmt.Fprintf(a.Stderr, "Usage: %s %s\n(%s %s --help for more)\n", name, cmd.Usage, name, cmd.Name)
	case badFlag:
		fmt.Fprintf(a.Stderr, "%s %s: %v\nUsage: %s %s\n(%s %s --help for more)\n", name, args[0], err, name, cmd.Usage, name, cmd.Name)
	default:
		fmt.Fprintf(a.Stderr, "%s %s: %v\n", name, args[0], cliError(err, fs))
	}
	return ExitError
}

// cliError words a tool's input error for the command line: a parameter
// given as a flag is named as the flag (--wait-port, not wait_port).
func cliError(err error, fs *flag.FlagSet) error {
	var ie *InputError
	if errors.As(err, &ie) && ie.Param != "" && fs.Lookup(flagName(ie.Param)) != nil {
		return fmt.Errorf("%s: %s", cliName(ie.Param), ie.Msg)
	}
	return err
}
