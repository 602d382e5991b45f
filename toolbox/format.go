package toolbox

// One formatter per kind of time shown: an age, a countdown (a timeout
// is notify.FormatTimeout, the desktop notification's too).

import (
	"fmt"
	"time"
)

// formatCountdown prints a countdown, rounded: "30s" under a minute,
// minutes up to the default timeout's "120m" and a little beyond, then
// hours ("26h05m") and days ("30d", "2d4h"): "43200m" reads as nothing.
func formatCountdown(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()+0.5))
	case d < 3*time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()+0.5))
	case d < 48*time.Hour:
		m := int(d.Minutes() + 0.5)
		return fmt.Sprintf("%dh%02dm", m/60, m%60)
	default:
		h := int(d.Hours() + 0.5)
		if h%24 == 0 {
			return fmt.Sprintf("%dd", h/24)
		}
		return fmt.Sprintf("%dd%dh", h/24, h%24)
	}
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
