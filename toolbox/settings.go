package toolbox

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/capture"
	"github.com/amp-bg-tasks/amp-bg-tasks/notify"
	"github.com/amp-bg-tasks/amp-bg-tasks/procs"
)

// Settings are the BG_* settings from the environment, read in one place
// with one rule: unset or empty is the default, and a value that does not
// parse or is out of range is an error naming the variable and what it
// wants, never silently the default.
type Settings struct {
	// KillGrace is BG_KILL_GRACE (seconds from SIGTERM to SIGKILL).
	KillGrace time.Duration
	// Log is BG_LOG_MAX_MB (MB per segment) and BG_LOG_BACKUPS (segments
	// kept; 0 keeps all).
	Log capture.WriterOptions
	// Notify is BG_NOTIFY (failure, always or never), for tasks started
	// without a notify of their own.
	Notify notify.Mode
	// NotifyCmd is BG_NOTIFY_CMD, a command run at each notification.
	NotifyCmd string
	// NotifyTimeout is BG_NOTIFY_TIMEOUT (seconds each channel may take).
	NotifyTimeout time.Duration
}

// DefaultNotifyTimeout is BG_NOTIFY_TIMEOUT's default: a webhook on a slow
// network may need more, and the supervisor's exit waits for it.
const DefaultNotifyTimeout = 5 * time.Second

// ReadSettings reads the settings through getenv (os.Getenv, or a test's).
// Every bad value is reported, not only the first.
func ReadSettings(getenv func(string) string) (Settings, error) {
	s := Settings{KillGrace: procs.DefaultGrace, NotifyTimeout: DefaultNotifyTimeout, NotifyCmd: getenv("BG_NOTIFY_CMD")}
	var errs []error
	seconds := func(name string, dst *time.Duration) {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f <= 0 || f > 86400 {
				errs = append(errs, fmt.Errorf("%s: want a positive number of seconds (at most 86400), got %q", name, v))
				return
			}
			*dst = time.Duration(f * float64(time.Second))
		}
	}
	seconds("BG_KILL_GRACE", &s.KillGrace)
	seconds("BG_NOTIFY_TIMEOUT", &s.NotifyTimeout)
	if v := strings.TrimSpace(getenv("BG_LOG_MAX_MB")); v != "" {
		mb, err := strconv.ParseFloat(v, 64)
		if err != nil || mb <= 0 || mb > 1<<20 {
			errs = append(errs, fmt.Errorf("BG_LOG_MAX_MB: want a positive number of megabytes, got %q", v))
		} else {
			s.Log.MaxBytes = int64(mb * (1 << 20))
		}
	}
	if v := strings.TrimSpace(getenv("BG_LOG_BACKUPS")); v != "" {
		n, err := strconv.Atoi(v)
		switch {
		case err != nil || n < 0:
			errs = append(errs, fmt.Errorf("BG_LOG_BACKUPS: want a whole number of segments (0 keeps all), got %q", v))
		case n == 0:
			s.Log.Backups = -1
		default:
			s.Log.Backups = n
		}
	}
	m, err := notify.ParseMode(getenv("BG_NOTIFY"))
	if err != nil {
		errs = append(errs, fmt.Errorf("BG_NOTIFY: %w", err))
	}
	s.Notify = m
	return s, errors.Join(errs...)
}

// settings reads a's settings.
func (a *App) Settings() (Settings, error) { return ReadSettings(a.Getenv) }
