package toolbox

// One formatter per kind of time shown: a timeout, an age, a countdown.

import (
	"fmt"
	"strings"
	"time"
)

// formatMinutes prints a countdown, rounded: "120m", or "30s" under one
// minute.
func formatMinutes(m float64) string {
	if m < 1 {
		return fmt.Sprintf("%ds", int(m*60+0.5))
	}
	return fmt.Sprintf("%dm", int(m+0.5))
}

// FormatTimeout prints a timeout exactly, to the second: "1m30s", "4h",
// "2h30m", "30s".
func FormatTimeout(m float64) string {
	s := int64(m*60 + 0.5)
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
