package cli

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/amp-bg-tasks/amp-bg-tasks/toolbox"
)

func cliList(ctx context.Context, a *toolbox.App, fs *flag.FlagSet, args []string) error {
	asJSON := fs.Bool("json", false, "print the list as JSON, for scripts (the JSON the agents get)")
	pf := declareParams(fs, toolbox.StatusTool(), "task_id", "wait_seconds")
	pos, err := parseMixed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return ErrUsage
	}
	return printList(ctx, a, pf, *asJSON)
}

// printList prints bg_status's list as a table: the live figures of
// running tasks, times in local time.
func printList(ctx context.Context, a *toolbox.App, pf *paramFlags, asJSON bool) error {
	if pf.given("port") {
		return printPort(ctx, a, pf.params(), asJSON) // Who holds it, not the list: bgtask port N.
	}
	l, err := toolbox.Invoke[toolbox.StatusList](ctx, a, pf.tool, pf.params())
	if err != nil {
		return err
	}
	if asJSON {
		return printJSON(a.Stdout, l)
	}
	pal := paletteFor(a, a.Stdout)
	tw := tabwriter.NewWriter(a.Stdout, 0, 4, 2, ' ', 0)
	// A HOST column once tasks run elsewhere ("-" is here).
	hostCol := func(string) string { return "" }
	if len(l.Hosts) > 0 {
		hostCol = func(h string) string {
			if h == "" {
				h = "-"
			}
			return h + "\t"
		}
	}
	fmt.Fprintf(tw, "TASK\t%sLABEL\t%s\tSTARTED\tAGE\tAUTO-KILL\tCPU\tMEM\tPORTS\tCOMMAND\n", hostCol("HOST"), pal.paint(sgrDefault, "STATUS"))
	group := ""
	var gone []toolbox.TaskSummary // running, their supervisor gone
	for _, t := range toolbox.GroupByStack(l.Tasks) {
		if t.Stack != group {
			// A stack's services together, under the file that declares them.
			group = t.Stack
			fmt.Fprintf(tw, "%s\n", pal.paint(sgrDefault, "── services of "+toolbox.Printable(group)))
		}
		label := toolbox.Printable(t.Label)
		if t.Label == t.TaskID {
			label = "" // No label: the id is in the first column already.
		}
		if t.Restarts > 0 {
			label += fmt.Sprintf(" (restarted %d)", t.Restarts)
		}
		cpu, mem := "", t.RSS
		if t.RSS != "" {
			cpu = fmt.Sprintf("%.1f%%", t.CPUPercent)
		}
		if t.Supervisor != "" {
			gone = append(gone, t) // Said below the table.
		}
		fmt.Fprintf(tw, "%s\t%s%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.TaskID, hostCol(t.Host), label, pal.statusText(t.Status, StatusText(t.Status, t.ExitCode)), localTime(a, t.StartedAt),
			t.Age, AutoKillText(t), cpu, mem, strings.Join(ports(t.Listening), ","), toolbox.Printable(t.Command))
	}
	_ = tw.Flush() // Stdout errors have nowhere to go.
	for _, t := range gone {
		ref := hintRef(t.Label, t.TaskID)
		fmt.Fprintf(a.Stderr, "%s: its supervisor is gone, so nobody enforces its timeout or captures its output (bgtask status %s); stop it with bgtask stop %s\n",
			toolbox.Printable(t.Label), ref, ref)
	}
	for _, h := range l.Hosts {
		if !h.Reachable {
			fmt.Fprintf(a.Stderr, "%s is unreachable, its tasks are shown as last known: %s\n", h.Host, h.Error)
		}
	}
	fmt.Fprintf(a.Stdout, "%d task(s), %d running", l.Summary.Total, l.Summary.Running)
	if l.Summary.Hidden > 0 {
		fmt.Fprintf(a.Stdout, ", %d older finished not shown (--all)", l.Summary.Hidden)
	}
	fmt.Fprintln(a.Stdout)
	return nil
}
