package main

import (
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/callsock"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/minutes"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/reaplist"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/statedir"
)

// nothingToReap reports whether args are an everyday bg-reaper's (a
// shell's start: see reapMaxAge) and the reaper's list of the state
// folder says it has nothing to do (see package reaplist), with none of
// the tools' settings set. Such a call needs neither the server nor
// bgtask-tool: it ends here, silent and successful, as the reaper would
// have. Anything else, or a list that does not hold, goes on as every
// call does.
func nothingToReap(args []string) bool {
	if callsock.Name(args[0]) != callsock.Reaper {
		return false
	}
	maxAge, ok := reapMaxAge(args[1:])
	if !ok || setsSomething(os.Environ()) {
		return false
	}
	dir, err := statedir.Default(os.Getenv)
	if err != nil {
		return false // bgtask-tool says why.
	}
	return reaplist.NothingToDo(dir, maxAge, time.Now())
}

// setsSomething reports whether environ sets one of the tools' settings,
// all named BG_... (see toolbox.ReadSettings): the reaper reads them, and
// a bad one is an error, never silently the default, so such a call goes
// where they are read. BG_CALL_SERVER is this program's own.
func setsSomething(environ []string) bool {
	for _, kv := range environ {
		if strings.HasPrefix(kv, "BG_") && !strings.HasPrefix(kv, "BG_CALL_SERVER=") {
			return true
		}
	}
	return false
}

// reapMaxAge parses an everyday bg-reaper's arguments, --max-age MINUTES
// and --quiet (as the shell profiles run it, in any of the forms the
// flag package takes), into the reaper's maximum age, as `bgtask reap`
// would. ok is false for anything else (--dry-run, --help, a value the
// reaper refuses): bgtask-tool answers those.
func reapMaxAge(args []string) (time.Duration, bool) {
	m := float64(reaplist.DefaultMaxAgeMinutes)
	for i := 0; i < len(args); i++ {
		name, ok := strings.CutPrefix(args[i], "-")
		if !ok {
			return 0, false
		}
		name = strings.TrimPrefix(name, "-")
		name, value, hasValue := strings.Cut(name, "=")
		switch {
		case name == "quiet" && !hasValue:
		case name == "max-age":
			if !hasValue {
				if i++; i == len(args) {
					return 0, false
				}
				value = args[i]
			}
			v, err := strconv.ParseFloat(value, 64)
			if err != nil || !(v >= 0) { // NaN too; +Inf is "never", as for bgtask reap.
				return 0, false
			}
			m = v
		default:
			return 0, false
		}
	}
	return minutes.Duration(m), true
}
