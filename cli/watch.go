package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/amp-bg-tasks/amp-bg-tasks/capture"
	"github.com/amp-bg-tasks/amp-bg-tasks/supervisor"
	"github.com/amp-bg-tasks/amp-bg-tasks/toolbox"
)

// `bgtask watch` is for agents that are woken by a command's lines:
// Claude Code's Monitor tool turns each line a command prints into a
// notification, and any agent can wait on a pipe. So it prints one short
// line per event, each written at once, and exits when the task ends:
//
//	web line: error: Cannot find module 'x'
//	web lines (3): error: a | error: b | error: c
//	web ready: listening on 127.0.0.1:3000
//	web restarting: exit 1 (restart 2)
//	web ended: failed, exit 2
//
// Lines are the task's cleaned output (as bg_output reads it, through a
// reader of its own, so no agent's cursor moves), matching --filter when
// given; the lines that arrive together come as one event.

// Bounds of what one event line says: a notification is read at a
// glance, and a flood must not become a flood of notifications.
const (
	watchLineLen    = 200 // each output line, as bg_output's max_line_len
	watchEventLen   = 600 // one event line, all told
	watchBurstLines = 20  // lines read per event
	watchWait       = 2   // seconds each read waits for news
)

// cliWatch prints a task's events, one line each, until it ends.
func cliWatch(ctx context.Context, a *toolbox.App, fs *flag.FlagSet, args []string) error {
	filter := fs.String("filter", "", "only output lines matching this regex (case-insensitive), as bgtask logs --filter")
	exclude := fs.String("exclude", "", "leave out output lines matching this regex, as bgtask logs --exclude")
	pos, err := parseMixed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return ErrUsage
	}
	if _, err := capture.NewPipeline(capture.Options{Filter: *filter, Exclude: *exclude}); err != nil {
		return err
	}
	id, err := resolveRef(ctx, a, pos[0])
	if err != nil {
		return err
	}
	reader := toolbox.PrivateReader("watch")
	ctx = toolbox.WithPrivateReader(ctx, reader)
	if t, err := a.LoadTask(ctx, id); err == nil {
		defer toolbox.RemoveCursors(t.Dir, reader)
	}
	w := &watcher{a: a, out: a.Stdout, id: id}
	if d, err := toolbox.Invoke[toolbox.TaskDetail](ctx, a, toolbox.StatusTool(), map[string]any{"task_id": id}); err == nil {
		w.label, w.restarts = toolbox.Printable(d.Label), d.Restarts // Restarts before the watch are not news.
	} else {
		return err
	}
	read := map[string]any{"task_id": id, "since": true, "max_lines": watchBurstLines, "max_line_len": watchLineLen, "wait_seconds": float64(watchWait)}
	if *filter != "" {
		read["filter"] = *filter
	}
	if *exclude != "" {
		read["exclude"] = *exclude
	}
	for {
		out, err := toolbox.Invoke[toolbox.OutputResult](ctx, a, toolbox.OutputTool(), read)
		if err != nil {
			return err
		}
		w.lines(out)
		d, err := toolbox.Invoke[toolbox.TaskDetail](ctx, a, toolbox.StatusTool(), map[string]any{"task_id": id})
		if err != nil {
			return err
		}
		w.label = toolbox.Printable(d.Label)
		w.status(d)
		if d.Status != supervisor.StatusRunning {
			// What it printed last, then how it ended.
			read["wait_seconds"] = 0.0
			if out, err := toolbox.Invoke[toolbox.OutputResult](ctx, a, toolbox.OutputTool(), read); err == nil {
				w.lines(out)
			}
			w.event("ended", endedAs(d.Status, d.ExitCode, palette{}))
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// watcher prints one task's events.
type watcher struct {
	a         *toolbox.App
	out       io.Writer
	id, label string
	restarts  int
	ready     bool
}

// event prints "<label> <kind>: <what>" as one line, bounded.
func (w *watcher) event(kind, what string) {
	label := w.label
	if label == "" {
		label = w.id
	}
	line := label + " " + kind + ": " + strings.ReplaceAll(what, "\n", " | ")
	if r := []rune(line); len(r) > watchEventLen {
		line = string(r[:watchEventLen]) + "...[truncated]"
	}
	fmt.Fprintln(w.out, line) // Unbuffered: a waiting agent sees it now.
}

// lines prints an output read's lines as one event, if it has any.
func (w *watcher) lines(out toolbox.OutputResult) {
	var got []string
	for _, s := range []*string{out.Stdout, out.Stderr} {
		if s != nil && *s != "" {
			got = append(got, strings.Split(*s, "\n")...)
		}
	}
	switch len(got) {
	case 0:
	case 1:
		w.event("line", got[0])
	default:
		w.event(fmt.Sprintf("lines (%d)", len(got)), strings.Join(got, "\n"))
	}
}

// status prints what changed in a running task: a restart, and the first
// time it listens on a port (ready).
func (w *watcher) status(d toolbox.TaskDetail) {
	if d.Restarts > w.restarts {
		what := fmt.Sprintf("restart %d", d.Restarts)
		if d.LastExitCode != nil {
			what = fmt.Sprintf("exit %d (restart %d)", *d.LastExitCode, d.Restarts)
		}
		w.restarts = d.Restarts
		w.ready = false // Ready again once it listens again.
		w.event("restarting", what)
	}
	if !w.ready && len(d.Listening) > 0 && d.Status == supervisor.StatusRunning {
		w.ready = true
		w.event("ready", "listening on "+strings.Join(d.Listening, ", "))
	}
}
