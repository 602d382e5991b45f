package toolbox

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/capture"
	"github.com/amp-bg-tasks/amp-bg-tasks/notify"
	"github.com/amp-bg-tasks/amp-bg-tasks/supervisor"
)

// notifyMode is the task's own mode (bg_run's notify parameter), else
// the settings' (BG_NOTIFY, else failure).
func notifyMode(t *supervisor.Task, s Settings) (notify.Mode, error) {
	if t.Notify != "" {
		return notify.ParseMode(t.Notify)
	}
	return s.Notify, nil
}

// NotifyEnd tells the user how t ended, if its mode wants it: in the
// failure mode, not a stop they asked for (bg_stop, replace=true, a
// stack's down: killed).
func (a *App) NotifyEnd(ctx context.Context, t *supervisor.Task) error {
	return a.notifyEvent(ctx, t, lastLine(t), false)
}

// notifyFoundDead tells the user of t, which the reaper found dead with
// nothing recorded and records as killed: dying unseen is a failure, so
// it is announced in the failure mode too.
func (a *App) notifyFoundDead(ctx context.Context, t *supervisor.Task) error {
	return a.notifyEvent(ctx, t, lastLine(t), true)
}

// notifyEvent tells the user how t ended, with the last line it printed;
// foundDead announces a killed task as a failure would be.
func (a *App) notifyEvent(ctx context.Context, t *supervisor.Task, last string, foundDead bool) error {
	settings, err := a.Settings()
	if err != nil {
		return err
	}
	mode, err := notifyMode(t, settings)
	if err != nil {
		return err
	}
	if foundDead && t.Status == supervisor.StatusKilled && mode != notify.ModeNever {
		mode = notify.ModeAlways
	}
	n := &notify.Notifier{Mode: mode, Command: settings.NotifyCmd, Env: a.Environ, Timeout: settings.NotifyTimeout}
	ev := notify.Event{
		TaskID: t.ID, Label: t.Label, Command: t.Command, Status: t.Status,
		ExitCode: t.ExitCode,
		Timeout:  t.Timeout,
		LastLine: last,
	}
	if t.Restart.On() && t.Status == supervisor.StatusFailed {
		ev.Restarts = t.Restarts // Its policy gave up.
	}
	if t.Status == supervisor.StatusRunning && t.LastExitCode != nil {
		ev.Status, ev.ExitCode = notify.StatusRestarting, t.LastExitCode
	}
	if !t.FinishedAt.IsZero() {
		ev.Duration = t.FinishedAt.Sub(t.StartedAt)
	}
	if _, err := n.Notify(ctx, ev); err != nil {
		return fmt.Errorf("notify end of %s: %w", t.ID, err)
	}
	return nil
}

// notifyRestart tells the user that t's command exited and its restart
// policy runs it again (once: at the first restart).
func (a *App) notifyRestart(ctx context.Context, t *supervisor.Task) error {
	return a.notifyEvent(ctx, t, lastLine(t), false)
}

// lastLine is the last line the task printed, cleaned: from the stream
// written last, since the two are separate files.
func lastLine(t *supervisor.Task) string {
	newest, when := "", time.Time{}
	for _, s := range []string{"stdout", "stderr"} {
		fi, err := os.Stat(filepath.Join(t.Dir, s))
		if err != nil || fi.Size() == 0 || !fi.ModTime().After(when) && newest != "" {
			continue
		}
		newest, when = s, fi.ModTime()
	}
	if newest == "" {
		return ""
	}
	r, err := capture.Read(t.Dir, newest, capture.ReadOptions{Tail: 20, WriterDone: true, Clean: capture.Options{Cwd: t.Cwd}})
	if err != nil {
		return ""
	}
	for i := len(r.Lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(r.Lines[i]); l != "" && !strings.HasPrefix(l, "[... ") && !strings.HasPrefix(l, "... ") {
			return l
		}
	}
	return ""
}
