// Package minutes turns minutes, the unit of the task files, the tools'
// parameters and their JSON, into a time.Duration, the unit of the code
// (see supervisor.Minutes). It is a package of its own so that the call
// client (cmd/bgtask-call), which links little more than package os,
// reads bg-reaper's --max-age as the reaper does. It does not format
// durations (notify.FormatTimeout does) nor refuse any value: callers
// refuse NaN and negative minutes first.
package minutes

import (
	"math"
	"time"
)

// Duration is m minutes. A positive m below a nanosecond is a
// nanosecond, not zero: a timeout of zero means none, and a tiny one must
// not mean forever. One beyond a duration's range (about 290 years;
// +Inf) is the longest duration, not a negative one: a huge --max-age or
// timeout means "never", and converting it as it is would mean "at
// once".
func Duration(m float64) time.Duration {
	if m*float64(time.Minute) >= math.MaxInt64 {
		return math.MaxInt64
	}
	d := time.Duration(m * float64(time.Minute))
	if d == 0 && m > 0 {
		return 1
	}
	return d
}
