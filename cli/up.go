package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"sync"

	"github.com/amp-bg-tasks/amp-bg-tasks/supervisor"
	"github.com/amp-bg-tasks/amp-bg-tasks/toolbox"
)

// cliUp starts the project's services (all, or those named with what
// they depend on), printing a line per service as each is ready.
func cliUp(ctx context.Context, a *toolbox.App, fs *flag.FlagSet, args []string) error {
	wait := fs.Float64("wait-seconds", toolbox.DefaultServiceWaitSeconds, "how long to wait for the services to be ready")
	timeout := fs.Float64("timeout", 0, "minutes before each service is killed; 0: never (stop them with bgtask down)")
	names, err := parseMixed(fs, args)
	if err != nil {
		return err
	}
	pal := paletteFor(a, a.Stdout)
	var mu sync.Mutex
	width := 0
	for _, n := range names {
		width = max(width, len(n))
	}
	st, states, err := a.Up(ctx, a.Wd, toolbox.UpOptions{Names: names, WaitSeconds: *wait, Timeout: supervisor.Minutes(*timeout),
		OnDone: func(s toolbox.ServiceState) {
			mu.Lock()
			defer mu.Unlock()
			fmt.Fprintln(a.Stdout, upLine(pal, s, max(width, 8)))
		}})
	if err != nil {
		return err
	}
	for _, n := range st.Ignored {
		fmt.Fprintf(a.Stderr, "%s: %s\n", st.File, n)
	}
	var failed []string
	for _, s := range states {
		if !s.Ready {
			failed = append(failed, s.Service)
			printStreams(s.Stdout, s.Stderr, a.Stderr, a.Stderr)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("not ready: %s", strings.Join(failed, ", "))
	}
	fmt.Fprintf(a.Stderr, "%d service(s) ready, from %s. Follow them with: bgtask logs --all -f\n", len(states), st.File)
	return nil
}

// upLine is one service's line: name, ready or not, task, and why.
func upLine(pal palette, s toolbox.ServiceState, width int) string {
	name := fmt.Sprintf("%-*s", width, toolbox.Printable(s.Service))
	what := pal.paint(sgrGreen, "ready")
	if !s.Ready {
		what = pal.paint(sgrRed, "NOT READY")
		if s.Status == toolbox.StatusNotStarted {
			what = pal.paint(sgrYellow, "not started")
		}
	}
	line := name + "  " + what
	if s.TaskID != "" {
		line += "  " + s.TaskID
	}
	if s.AlreadyRunning {
		line += " (already running)"
	}
	if s.Port != 0 {
		line += fmt.Sprintf("  PORT=%d", s.Port)
	}
	if s.Note != "" {
		line += "  " + s.Note
	}
	return line
}

// cliDown stops the project's services, dependents first.
func cliDown(ctx context.Context, a *toolbox.App, fs *flag.FlagSet, args []string) error {
	names, err := parseMixed(fs, args)
	if err != nil {
		return err
	}
	_, states, err := a.Down(ctx, a.Wd, names)
	for _, s := range states {
		if s.TaskID == "" {
			fmt.Fprintf(a.Stdout, "%s: not running\n", toolbox.Printable(s.Service))
			continue
		}
		fmt.Fprintf(a.Stdout, "Stopped %s (%s): %s\n", toolbox.Printable(s.Service), s.TaskID, s.Status)
	}
	return err
}

// cliSave writes the tasks running in this folder as a
// process-compose.yaml that bgtask up starts again.
func cliSave(ctx context.Context, a *toolbox.App, fs *flag.FlagSet, args []string) error {
	force := fs.Bool("force", false, "replace an existing process-compose.yaml")
	pos, err := parseMixed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return ErrUsage
	}
	path, names, err := a.Save(ctx, a.Wd, *force)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.Stdout, "Wrote %s with %d process(es): %s. Start them again with: bgtask up\n", path, len(names), strings.Join(names, ", "))
	return nil
}

// serviceTasks returns the running tasks of the project's services named
// (all with none), for bgtask logs.
func serviceTasks(ctx context.Context, a *toolbox.App, names []string) ([]*supervisor.Task, error) {
	st, err := a.LoadStack(ctx, a.Wd)
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		names = st.Names()
	}
	var out []*supervisor.Task
	for _, n := range names {
		v := st.Service(n)
		if v == nil {
			return nil, fmt.Errorf("%s declares no service %q (declared: %s)", st.File, n, strings.Join(st.Names(), ", "))
		}
		if t := a.RunningWithLabel(ctx, v.Name, v.Dir); t != nil {
			out = append(out, t)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("none of the services runs: start them with bgtask up")
	}
	return out, nil
}
