package notify

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// Mode says which task endings deserve a notification. It is the value of
// BG_NOTIFY and of bg_run's notify parameter; the caller decides which of
// the two applies.
type Mode string

const (
	// ModeFailure notifies when a task failed, timed out or was reaped,
	// and stays silent on success and on a stop the user asked for. The
	// zero Mode behaves as ModeFailure.
	ModeFailure Mode = "failure"
	// ModeAlways notifies on every end status.
	ModeAlways Mode = "always"
	// ModeNever never notifies.
	ModeNever Mode = "never"
)

// ParseMode reads a BG_NOTIFY or notify value. Case and surrounding blanks
// are ignored; the empty string means the default, ModeFailure.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(strings.ToLower(strings.TrimSpace(s))); m {
	case "":
		return ModeFailure, nil
	case ModeFailure, ModeAlways, ModeNever:
		return m, nil
	}
	return "", fmt.Errorf("notify mode %q: want %q, %q or %q", s, ModeFailure, ModeAlways, ModeNever)
}

// Wants reports whether a task that ended with status should be notified.
// Statuses are the task store's words: completed, failed, killed, timeout,
// reaped; running (and the empty string) is not an ending and is never
// wanted. A Mode that is not one of the constants behaves as ModeFailure.
func (m Mode) Wants(status string) bool {
	if status == "" || status == "running" {
		return false
	}
	switch m {
	case ModeNever:
		return false
	case ModeAlways:
		return true
	}
	// completed and killed are what the user expected (success, or a stop
	// they asked for): telling them again is noise.
	return status == "failed" || status == "timeout" || status == "reaped" || status == StatusRestarting
}

// wantsEvent is Wants for ev, which also says how the command exited: a
// restart after a clean exit (restart=always) is no failure, and only
// ModeAlways tells it.
func (m Mode) wantsEvent(ev Event) bool {
	if ev.Status == StatusRestarting && ev.ExitCode != nil && *ev.ExitCode == 0 {
		return m == ModeAlways
	}
	return m.Wants(ev.Status)
}

// StatusRestarting is the Event of a task whose command exited and that
// its restart policy runs again: told once, at the first restart, not at
// every crash.
const StatusRestarting = "restarting"

// Event is one task ending, as the caller recorded it.
type Event struct {
	TaskID  string
	Label   string // shown in the title; TaskID is used when empty
	Command string
	Status  string // completed, failed, killed, timeout or reaped
	// ExitCode is the command's exit code, nil when it has none (killed by
	// a signal, timed out, reaped).
	ExitCode *int
	Duration time.Duration // how long the task ran
	Timeout  time.Duration // the task's timeout, named in a timeout's title
	// LastLine is the last non-blank output line, already cleaned of
	// escape codes by the caller.
	LastLine string
	// Restarts is how often a restart policy ran the command again: at
	// its end, the title says it gave up after that many.
	Restarts int
}

// Title is the notification's one-line summary: a mark, the task's label
// and what happened, e.g. "✗ tests failed (exit 1)" or
// "⏱ dev-server timed out after 2h".
func Title(ev Event) string {
	name := clean(ev.Label, maxField)
	if name == "" {
		name = clean(ev.TaskID, maxField)
	}
	if name == "" {
		name = "task"
	}
	gaveUp := ""
	if ev.Restarts > 0 {
		gaveUp = fmt.Sprintf(": gave up after %d restarts", ev.Restarts)
	}
	switch ev.Status {
	case StatusRestarting:
		if ev.ExitCode != nil {
			return fmt.Sprintf("↻ %s exited (exit %d): restarting", name, *ev.ExitCode)
		}
		return "↻ " + name + " exited: restarting"
	case "completed":
		return "✓ " + name + " completed"
	case "failed":
		if ev.ExitCode != nil {
			return fmt.Sprintf("✗ %s failed (exit %d)%s", name, *ev.ExitCode, gaveUp)
		}
		return "✗ " + name + " failed" + gaveUp
	case "timeout":
		if ev.Timeout > 0 {
			return "⏱ " + name + " timed out after " + FormatTimeout(ev.Timeout)
		}
		return "⏱ " + name + " timed out"
	case "reaped":
		return "✗ " + name + " reaped (orphaned or too old)"
	case "killed":
		return "■ " + name + " killed"
	}
	return name + " " + clean(ev.Status, maxField)
}

// Body is the notification's text: the command, how long it ran and its
// last output line, one per line, each omitted when unknown. Fields are
// kept to one line and shortened, since a notification is read at a glance.
func Body(ev Event) string {
	var lines []string
	if c := clean(ev.Command, maxField); c != "" {
		lines = append(lines, "$ "+c)
	}
	if ev.Duration > 0 {
		lines = append(lines, "ran for "+formatDuration(ev.Duration))
	}
	if l := clean(ev.LastLine, maxField); l != "" {
		lines = append(lines, "last line: "+l)
	}
	return strings.Join(lines, "\n")
}

// maxField bounds each field of a title or body, in characters.
const maxField = 200

// clean makes s fit on one line of a notification: valid UTF-8 (D-Bus
// rejects anything else), line breaks and tabs turned into spaces, other
// control characters dropped, surrounding blanks trimmed, and at most max
// characters.
func clean(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	n := 0
	for _, r := range s {
		switch {
		case r == '\n' || r == '\r' || r == '\t':
			r = ' '
		case unicode.IsControl(r):
			continue
		}
		b.WriteRune(r)
		n++
	}
	s = strings.TrimSpace(b.String())
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	return string([]rune(s)[:max-1]) + "…"
}

// FormatTimeout writes a timeout exactly, to the second, in the largest
// units that fit: "2h", "1m30s", "2h30m", "1d", "30s". It is the one
// wording of a timeout: the notification's title, bgtask run and the
// agent's notices say it alike.
func FormatTimeout(d time.Duration) string {
	if d > 0 && d < time.Second {
		return formatDuration(d) // "6ms", not "0s": a timeout of 0 is none.
	}
	s := int64(d.Round(time.Second) / time.Second)
	var b strings.Builder
	for _, u := range []struct {
		secs int64
		unit string
	}{{86400, "d"}, {3600, "h"}, {60, "m"}, {1, "s"}} {
		if n := s / u.secs; n > 0 || u.secs == 1 && b.Len() == 0 {
			fmt.Fprintf(&b, "%d%s", n, u.unit)
			s -= n * u.secs
		}
	}
	return b.String()
}

// formatDuration writes d to the second ("1h2m3s"), or to the millisecond
// below a second.
func formatDuration(d time.Duration) string {
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

// ErrNoSessionBus is returned, wrapped with the reason, for the desktop
// channel on Linux when the environment names no D-Bus session bus:
// DBUS_SESSION_BUS_ADDRESS is unset (or asks for autolaunch) and
// $XDG_RUNTIME_DIR/bus is not a socket. It is the normal case on a server or
// in a container, and a caller that also has BG_NOTIFY_CMD may choose not to
// log it. notify never starts a bus.
var ErrNoSessionBus = errors.New("no D-Bus session bus")

// DefaultTimeout bounds each channel when Notifier.Timeout is zero.
const DefaultTimeout = 3 * time.Second

// DefaultAppName names the sender when Notifier.AppName is empty.
const DefaultAppName = "amp-bg-tasks"

// A Notifier sends Events to a human through two channels: the desktop
// (beeep.Notify, on Linux only once a session bus and a notification
// server are known to be there) and, when Command is set, a user command.
// The zero Notifier sends failures to the desktop only, as the process
// environment allows.
type Notifier struct {
	Mode Mode
	// Command is BG_NOTIFY_CMD: run with /bin/sh -c, in its own process
	// group, with the event in its environment (BG_TASK_ID, BG_TASK_LABEL,
	// BG_TASK_STATUS, BG_TASK_EXIT_CODE, empty when there is none,
	// BG_TASK_LAST_LINE, BG_TASK_COMMAND, and the notification's
	// BG_NOTIFY_TITLE and BG_NOTIFY_BODY). Its process group is killed when
	// it exits or at Timeout, whichever comes first: a hook does not leave
	// processes behind.
	Command string
	// Timeout bounds each channel; DefaultTimeout when zero.
	Timeout time.Duration
	// AppName names the sender to the notification daemon (on Linux:
	// osascript has no such field); DefaultAppName when empty. It is
	// passed to beeep through its global beeep.AppName, set before each
	// notification.
	AppName string
	// Env is the environment to look for a session bus in and to run
	// Command with; os.Environ() when nil, which is what production
	// callers should leave it at. beeep (through godbus) reads the
	// session bus from the process environment and keeps its connection
	// for the life of the process, so on Linux the bus found in Env must
	// be the process's: when the process environment names no bus,
	// DBUS_SESSION_BUS_ADDRESS is set in it to the one found in Env (the
	// only change notify makes to the process environment); when it
	// names another, or an earlier notification of the process went to
	// another, the desktop channel fails with an error saying so.
	Env []string
}

// Notify sends ev when n.Mode wants ev.Status, through the desktop and the
// command (when set) concurrently, each bounded by n.Timeout and by ctx.
// sent reports whether at least one channel delivered it; err joins what
// failed, each prefixed by its channel ("desktop notification: ",
// "BG_NOTIFY_CMD: "). A channel that ran out of time wraps
// context.DeadlineExceeded; a desktop without a session bus wraps
// ErrNoSessionBus. When the mode does not want ev, Notify returns false,
// nil without doing anything.
func (n *Notifier) Notify(ctx context.Context, ev Event) (sent bool, err error) {
	if !n.Mode.wantsEvent(ev) {
		return false, nil
	}
	timeout := n.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	env := n.Env
	if env == nil {
		env = os.Environ()
	}
	app := n.AppName
	if app == "" {
		app = DefaultAppName
	}
	title, body := Title(ev), Body(ev)
	// The cause names the limit, so that the caller's log says why a
	// channel was abandoned; it still matches context.DeadlineExceeded.
	late := fmt.Errorf("no result within %v: %w", timeout, context.DeadlineExceeded)

	var (
		wg                  sync.WaitGroup
		desktopErr, hookErr error
	)
	wg.Go(func() {
		ctx, cancel := context.WithTimeoutCause(ctx, timeout, late)
		defer cancel()
		desktopErr = bounded(ctx, func(ctx context.Context) error {
			return sendDesktop(ctx, env, app, ev.Status, title, body)
		})
		if desktopErr != nil {
			desktopErr = fmt.Errorf("desktop notification: %w", desktopErr)
		}
	})
	if n.Command != "" {
		wg.Go(func() {
			ctx, cancel := context.WithTimeoutCause(ctx, timeout, late)
			defer cancel()
			hookErr = runHook(ctx, n.Command, hookEnv(env, ev, title, body))
			if hookErr != nil {
				hookErr = fmt.Errorf("BG_NOTIFY_CMD: %w", hookErr)
			}
		})
	}
	wg.Wait()
	sent = desktopErr == nil || (n.Command != "" && hookErr == nil)
	return sent, errors.Join(desktopErr, hookErr)
}

// bounded runs f and returns its error, or ctx's error as soon as ctx is
// done. f is given ctx and should stop by itself when it is done; when it
// cannot (beeep takes no context, a dial may not), it is left to finish in
// the background, which costs a goroutine and keeps the caller on time.
func bounded(ctx context.Context, f func(context.Context) error) error {
	done := make(chan error, 1) // Buffered: an abandoned f must not block.
	go func() { done <- f(ctx) }()
	select {
	case err := <-done:
		if err != nil && ctx.Err() != nil && !errors.Is(err, context.Cause(ctx)) {
			// f noticed ctx first: say so the same way as below, unless
			// f's error already does (and says more).
			return context.Cause(ctx)
		}
		return err
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
