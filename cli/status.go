package cli

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/amp-bg-tasks/amp-bg-tasks/toolbox"
)

// cliStatus shows one task in detail, or without one the list.
func cliStatus(ctx context.Context, a *toolbox.App, fs *flag.FlagSet, args []string) error {
	asJSON := fs.Bool("json", false, "print it as JSON, for scripts (the JSON the agents get)")
	pf := declareParams(fs, toolbox.StatusTool(), "task_id")
	pos, err := parseMixed(fs, args)
	if err != nil {
		return err
	}
	switch len(pos) {
	case 0:
		return printList(ctx, a, pf, *asJSON)
	case 1:
	default:
		return ErrUsage
	}
	id, err := resolveRef(ctx, a, pos[0])
	if err != nil {
		return err
	}
	pf.set("task_id", id)
	d, err := toolbox.Invoke[toolbox.TaskDetail](ctx, a, pf.tool, pf.params())
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(a.Stdout, d)
	}
	if d.Supervisor != "" {
		// Gone: the advice is to stop it as a person does.
		stop := "bgtask stop " + shellWord(pos[0])
		d.AutoKill, d.Supervisor = toolbox.NotEnforced(stop), toolbox.SupervisorGone(stop)
	}
	// For people: aligned fields, the ones that say something.
	tw := tabwriter.NewWriter(a.Stdout, 0, 4, 2, ' ', 0)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s:\t%s\n", k, v)
		}
	}
	row("task", d.TaskID)
	if d.Label != d.TaskID {
		row("label", toolbox.Printable(d.Label))
	}
	pal := paletteFor(a, a.Stdout)
	status := pal.status(d.Status)
	if d.ExitCode != nil {
		status += fmt.Sprintf(" (exit %d)", *d.ExitCode)
	}
	row("status", status)
	row("host", d.Host) // Another machine's task: its cwd and logs are there.
	row("command", toolbox.Printable(d.Command))
	row("cwd", toolbox.Printable(d.Cwd))
	row("started", localTime(a, d.StartedAt)+" ("+d.Age+" ago)")
	if d.FinishedAt != "" {
		row("finished", localTime(a, d.FinishedAt))
	}
	if d.Restarts > 0 || d.Restart != "" {
		r := strconv.Itoa(d.Restarts)
		switch {
		case d.LastExitCode != nil && d.Restarts == 0:
			// Exited, waiting out the backoff before its first restart.
			r += fmt.Sprintf(" (it exited %d and is about to run again)", *d.LastExitCode)
		case d.LastExitCode != nil:
			r += fmt.Sprintf(" (the last after exit %d)", *d.LastExitCode)
		}
		if d.Restart != "" {
			r += "; restart: " + d.Restart
		}
		if d.MaxRestarts != nil && *d.MaxRestarts > 0 {
			r += fmt.Sprintf(", at most %d", *d.MaxRestarts)
		}
		if d.BackoffSeconds != nil && d.Restart != "" {
			r += fmt.Sprintf(", %gs apart", *d.BackoffSeconds)
		}
		row("restarts", r)
	}
	row("notify", d.Notify)
	row("auto-kill", d.AutoKill)
	row("supervisor", d.Supervisor)
	row("record", strings.Join(d.RecordUnreadable, "; "))
	if d.Processes > 0 {
		row("processes", fmt.Sprintf("%d, %s, %.1f%% CPU, quiet for %s", d.Processes, d.RSS, d.CPUPercent, d.QuietFor))
	}
	row("listening", strings.Join(d.Listening, ", "))
	lines := "lines"
	if d.StdoutLines == 1 {
		lines = "line"
	}
	row("output", fmt.Sprintf("%d %s on stdout, %d on stderr (bgtask logs %s)", d.StdoutLines, lines, d.StderrLines, hintRef(d.Label, d.TaskID)))
	row("capture error", d.CaptureError)
	row("logs", d.LogDir)
	return tw.Flush()
}
