package toolbox

// One formatter per kind of time shown: an age, a countdown (a timeout
// is notify.FormatTimeout, the desktop notification's too).

import (
	"fmt"
	"time"
)

// formatCountdown prints a countdown, rounded: "120m", or "30s" under
// one minute.
func formatCountdown(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%ds", int(d.Seconds()+0.5))
	}
	return fmt.Sprintf("%dm", int(d.Minutes()+0.5))
}

// FormatDuration prints an age: "45s", "12m", "3h05m", "2d4h".
func FormatDuration(d time.Duration) string {
	d = max(d, 0)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	default:
		return fmt.Sprintf("%dd%dh", int(d.Hours())/24, int(d.Hours())%24)
	}
}
