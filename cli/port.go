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

// cliPort says who listens on a port of this machine: one of our tasks or
// another program (bg_status port=N for people). It never signals
// anything; it says what to do. Nothing listening is exit status 1, as
// for lsof and fuser, so that a script can test it.
func cliPort(ctx context.Context, a *toolbox.App, fs *flag.FlagSet, args []string) error {
	asJSON := fs.Bool("json", false, "print it as JSON, for scripts")
	pos, err := parseMixed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return ErrUsage
	}
	port, err := strconv.Atoi(pos[0])
	if err != nil || port < 1 || port > 65535 {
		return fmt.Errorf("port %q: want a number from 1 to 65535", pos[0])
	}
	return printPort(ctx, a, map[string]any{"port": port}, *asJSON)
}

// printPort prints bg_status's answer to params (a port, and nothing
// else), as bgtask port does: who holds it, and what to do.
func printPort(ctx context.Context, a *toolbox.App, params map[string]any, asJSON bool) error {
	ps, err := toolbox.Invoke[toolbox.PortStatus](ctx, a, toolbox.StatusTool(), params)
	if err != nil {
		return err
	}
	port := ps.Port
	if asJSON {
		if err := printJSON(a.Stdout, ps); err != nil {
			return err
		}
	} else if len(ps.Holders) > 0 {
		tw := tabwriter.NewWriter(a.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ADDRESS\tPID\tUSER\tTASK\tCOMMAND\tCWD")
		for _, h := range ps.Holders {
			task, pid := "-", "?"
			if h.Ours {
				task = toolbox.Printable(h.Label) + " (" + h.TaskID + ")"
			}
			if h.PID != 0 {
				pid = strconv.Itoa(h.PID)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", strings.Join(h.Addresses, ","), pid, h.User, task,
				toolbox.Printable(clip(h.Command, 60)), toolbox.Printable(h.Cwd))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if ps.Holders[0].Ours {
			h := ps.Holders[0]
			fmt.Fprintf(a.Stderr, "Held by your task %s: bgtask restart %s, or bgtask stop %s.\n", toolbox.Printable(h.Label), h.TaskID, h.TaskID)
		} else {
			fmt.Fprintln(a.Stderr, "Not a bgtask task: bgtask never signals it. Stop it yourself if it is yours, or use another port.")
		}
	}
	if len(ps.Holders) == 0 {
		return fmt.Errorf("nothing listens on port %d here", port)
	}
	return nil
}

// clip shortens s to n characters, marking the cut.
func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
