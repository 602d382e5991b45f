// Package top is `bgtask top`, a live view of the background tasks for a
// person at a terminal: every task with its status, age, auto-kill, CPU,
// memory and ports, sparklines of CPU and memory over the last minute,
// and the selected task's cleaned log followed live, as its tail, its
// digest or filtered; keys stop, restart and remove tasks.
//
// It reads the same data the agent's tools do (bg_status, bg_output with
// since=false, so the agent's read cursors are left alone) and acts
// through the same commands as the CLI (stop, restart, rm). It is built
// on Bubble Tea and Lip Gloss, which the lean bgtask-tool does not link:
// the full bgtask adds it with Command, as it adds install and mcp. It
// needs a terminal on its input and output; it follows resizes (SIGWINCH)
// and gives the terminal back as it found it when it quits.
package top

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/term"

	"github.com/amp-bg-tasks/amp-bg-tasks/cli"
	"github.com/amp-bg-tasks/amp-bg-tasks/procs"
	"github.com/amp-bg-tasks/amp-bg-tasks/supervisor"
	"github.com/amp-bg-tasks/amp-bg-tasks/toolbox"
)

// Command returns the `top` subcommand.
func Command() cli.Command {
	return cli.Command{
		Name:    "top",
		Summary: "a live view of the tasks: CPU, memory, ports, logs; keys to stop, restart, remove",
		Example: "bgtask top\nbgtask top --interval 2",
		Run:     run,
	}
}

// history is how far back the sparklines reach.
const history = time.Minute

func run(ctx context.Context, a *toolbox.App, fs *flag.FlagSet, args []string) error {
	interval := fs.Float64("interval", 1, "seconds between two refreshes (0.2 to 60)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 || *interval < 0.2 || *interval > 60 {
		return cli.ErrUsage
	}
	in, inOK := a.Stdin.(*os.File)
	out, outOK := a.Stdout.(*os.File)
	if !inOK || !outOK || !term.IsTerminal(in.Fd()) || !term.IsTerminal(out.Fd()) {
		return errors.New("top needs a terminal: run it in one, not through a pipe (bgtask ls and bgtask logs -f work anywhere)")
	}
	// It lists every second: the process table's owners and markers are
	// read once per process, not once per refresh.
	a.Procs = procs.NewSnapshotter()
	// And the task records: read again only when they changed.
	a.Records = supervisor.NewRecordCache()
	m := newModel(ctx, a, time.Duration(*interval*float64(time.Second)), out)
	// 20 frames a second, not Bubble Tea's 60: its renderer wakes up
	// every frame, changed or not, which was a third of top's idle CPU;
	// a key's redraw waits at most 50 ms.
	p := tea.NewProgram(m, tea.WithAltScreen(), tea.WithInput(in), tea.WithOutput(out), tea.WithContext(ctx), tea.WithFPS(20))
	if _, err := p.Run(); err != nil && !errors.Is(err, tea.ErrProgramKilled) {
		return fmt.Errorf("run the live view: %w", err)
	}
	return nil
}
