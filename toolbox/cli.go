package toolbox

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/capture"
	"github.com/amp-bg-tasks/amp-bg-tasks/supervisor"
)

const cliUsage = `bgtask runs long commands in the background for coding agents.

Usage:
  bgtask run [--label L] [--cwd DIR] [--timeout MIN] -- COMMAND...
  bgtask ls
  bgtask status ID
  bgtask stop ID
  bgtask logs ID [-f] [--digest] [--stream stdout|stderr]
  bgtask send ID [--key KEY] [--no-enter] [TEXT...]
  bgtask reap [--max-age MIN] [--dry-run] [--quiet]   (also installed as bg-reaper)
  bgtask mcp                                          (MCP server on stdio)
  bgtask install [--prefix DIR] [--toolbox DIR] [--shell LIST] [--uninstall]

Installed as bg-run, bg-status, bg-output, bg-stop and bg-send it speaks the Amp
toolbox protocol (TOOLBOX_ACTION=describe|execute).
`

// command is one CLI subcommand: its flags and what it does with them.
type command struct {
	usage string
	run   func(ctx context.Context, a *App, fs *flag.FlagSet, args []string) error
}

func commands() map[string]command {
	return map[string]command{
		"run":    {"run [--label L] [--cwd DIR] [--timeout MIN] -- COMMAND...", cliRun},
		"ls":     {"ls", cliList},
		"status": {"status ID", cliStatus},
		"stop":   {"stop ID", cliStop},
		"logs":   {"logs ID [-f] [--digest] [--stream stdout|stderr]", cliLogs},
		"send":   {"send ID [--key KEY] [--no-enter] [TEXT...]", cliSend},
		"reap":   {"reap [--max-age MIN] [--dry-run] [--quiet]", cliReap},

		// Setup, and the tools served to MCP clients.
		"install": {"install [--prefix DIR] [--toolbox DIR] [--shell bash,zsh,fish|none] [--uninstall]", cliInstall},
		"mcp":     {"mcp", cliMCP},
	}
}

// printUsage prints a command's usage line and its flags, spelled with
// two dashes as the README writes them (the flag package accepts both).
func printUsage(w io.Writer, name, cmd, usage string, fs *flag.FlagSet) {
	if name == cmd || strings.HasSuffix(name, "-"+cmd) || strings.HasSuffix(name, "-reaper") {
		fmt.Fprintf(w, "usage: %s %s\n", name, strings.TrimPrefix(usage, cmd+" "))
	} else {
		fmt.Fprintf(w, "usage: %s %s\n", name, usage)
	}
	fs.VisitAll(func(f *flag.Flag) {
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
}

// errUsage makes CLI print the command's usage.
var errUsage = errors.New("usage")

// CLI runs the human command line: `bgtask <command> ...`.
func (a *App) CLI(ctx context.Context, name string, args []string) ExitCode {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(a.Stdout, cliUsage)
		if len(args) == 0 {
			return ExitError
		}
		return ExitOK
	}
	cmd, ok := commands()[args[0]]
	if !ok {
		fmt.Fprintf(a.Stderr, "%s: unknown command %q\n\n%s", name, args[0], cliUsage)
		return ExitError
	}
	fs := flag.NewFlagSet(name+" "+args[0], flag.ContinueOnError)
	fs.SetOutput(a.Stderr)
	help := slices.ContainsFunc(args[1:], func(s string) bool { return s == "-h" || s == "--help" || s == "-help" })
	fs.Usage = func() {
		w := a.Stderr // A mistake: usage goes with the error.
		if help {
			w = a.Stdout // Asked for: it is the answer.
		}
		printUsage(w, name, args[0], cmd.usage, fs)
	}
	err := cmd.run(ctx, a, fs, args[1:])
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, flag.ErrHelp):
		return ExitOK
	case errors.Is(err, errUsage):
		fmt.Fprintf(a.Stderr, "usage: %s %s\n", name, cmd.usage)
	default:
		fmt.Fprintf(a.Stderr, "%s %s: %v\n", name, args[0], err)
	}
	return ExitError
}

// callTool runs a tool with params, so the CLI behaves exactly as the
// agent tools do.
func (a *App) callTool(ctx context.Context, t *Tool, params map[string]any) (any, error) {
	raw, err := json.Marshal(params)
	if err != nil {
		return nil, err
	}
	return a.Call(ctx, t, raw)
}

func cliRun(ctx context.Context, a *App, fs *flag.FlagSet, args []string) error {
	label := fs.String("label", "", "short name for the task")
	cwd := fs.String("cwd", "", "working directory (default: here)")
	timeout := fs.Float64("timeout", DefaultTimeoutMinutes, "minutes before auto-kill; 0 disables")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errUsage
	}
	res, err := a.callTool(ctx, bgRun(), map[string]any{
		"command": shellJoin(fs.Args()), "label": *label, "cwd": *cwd, "timeout": *timeout,
	})
	if err != nil {
		return err
	}
	r := res.(RunResult)
	fmt.Fprintf(a.Stdout, "%s\n%s\n", r.TaskID, r.Message)
	return nil
}

// shellJoin turns argv back into one bash command line. A single argument
// is taken as a command line already (bgtask run -- 'npm run dev | tee x').
func shellJoin(args []string) string {
	if len(args) == 1 {
		return args[0]
	}
	quoted := make([]string, len(args))
	for i, s := range args {
		if s != "" && strings.IndexFunc(s, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%", r))
		}) < 0 {
			quoted[i] = s
			continue
		}
		quoted[i] = "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
	}
	return strings.Join(quoted, " ")
}

func cliList(ctx context.Context, a *App, fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	res, err := a.callTool(ctx, bgStatus(), map[string]any{})
	if err != nil {
		return err
	}
	l := res.(StatusList)
	tw := tabwriter.NewWriter(a.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TASK\tLABEL\tSTATUS\tAGE\tAUTO-KILL\tCOMMAND")
	for _, t := range l.Tasks {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.TaskID, t.Label, t.Status, t.Age, t.AutoKill, t.Command)
	}
	_ = tw.Flush() // Stdout errors have nowhere to go.
	fmt.Fprintf(a.Stdout, "%d task(s), %d running\n", l.Summary.Total, l.Summary.Running)
	return nil
}

func oneID(fs *flag.FlagSet, args []string) (string, error) {
	if err := fs.Parse(args); err != nil {
		return "", err
	}
	if fs.NArg() != 1 {
		return "", errUsage
	}
	return fs.Arg(0), nil
}

func cliStatus(ctx context.Context, a *App, fs *flag.FlagSet, args []string) error {
	id, err := oneID(fs, args)
	if err != nil {
		return err
	}
	res, err := a.callTool(ctx, bgStatus(), map[string]any{"task_id": id})
	if err != nil {
		return err
	}
	enc := json.NewEncoder(a.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(res)
}

func cliStop(ctx context.Context, a *App, fs *flag.FlagSet, args []string) error {
	id, err := oneID(fs, args)
	if err != nil {
		return err
	}
	res, err := a.callTool(ctx, bgStop(), map[string]any{"task_id": id})
	if err != nil {
		return err
	}
	fmt.Fprintln(a.Stdout, res.(StopResult).Message)
	return nil
}

// followInterval is how often `logs -f` looks for new output: files give
// no portable way to be told that they grew.
const followInterval = 200 * time.Millisecond

func cliLogs(ctx context.Context, a *App, fs *flag.FlagSet, args []string) error {
	follow := fs.Bool("f", false, "follow: keep printing new output, across rotations, until the task ends")
	stream := fs.String("stream", "stdout", "stdout or stderr")
	digest := fs.Bool("digest", false, "print the digest of the log for diagnosis (errors with their context, summaries, the end) instead of the log")
	var rest []string
	// Accept the id before or after the flags.
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		rest, args = args[:1], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	rest = append(rest, fs.Args()...)
	if len(rest) != 1 || (*stream != "stdout" && *stream != "stderr") {
		return errUsage
	}
	t, err := a.loadTask(ctx, rest[0])
	if err != nil {
		return err
	}
	if *digest {
		res, err := a.callTool(ctx, bgOutput(), map[string]any{"task_id": t.ID, "stream": *stream, "view": "digest", "since": false})
		if err != nil {
			return err
		}
		out := res.(OutputResult)
		text := out.Stdout
		if *stream == "stderr" {
			text = out.Stderr
		}
		if text != nil && *text != "" {
			fmt.Fprintln(a.Stdout, *text)
		}
		return nil
	}
	var pos int64
	for {
		s, err := capture.OpenStream(t.Dir, *stream)
		if err != nil {
			return err
		}
		next, skipped, err := s.CopyFrom(a.Stdout, pos)
		_ = s.Close() // Read only.
		if err != nil {
			return err
		}
		if skipped > 0 {
			fmt.Fprintf(a.Stderr, "[... %d bytes rotated away unread ...]\n", skipped)
		}
		pos = next
		if !*follow || t.Status != supervisor.StatusRunning {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(followInterval):
		}
		// Re-read the status after the copy: output written before the
		// task ended is then certain to be copied once more.
		if t, err = a.loadTask(ctx, t.ID); err != nil {
			return err
		}
	}
}

func cliSend(ctx context.Context, a *App, fs *flag.FlagSet, args []string) error {
	key := fs.String("key", "", "a key to press after the text: enter, ctrl-c, ctrl-d, esc, tab, up, down")
	noEnter := fs.Bool("no-enter", false, "do not press Enter after the text")
	var id []string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		id, args = args[:1], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	rest := append(id, fs.Args()...)
	if len(rest) < 1 {
		return errUsage
	}
	params := map[string]any{"task_id": rest[0], "enter": !*noEnter}
	if len(rest) > 1 {
		params["text"] = strings.Join(rest[1:], " ")
	}
	if *key != "" {
		params["key"] = *key
	}
	res, err := a.callTool(ctx, bgSend(), params)
	if err != nil {
		return err
	}
	fmt.Fprintln(a.Stdout, res.(SendResult).Message)
	return nil
}
