// Package statedir says where the tasks' state folder is: $TASKS_DIR,
// else $XDG_STATE_HOME/amp-bg-tasks, else
// $HOME/.local/state/amp-bg-tasks. It is the one rule the store
// (package supervisor) and the call client (cmd/bgtask-call, which links
// little more than package os) share; it does not create the folder nor
// check who owns it. Unix paths only.
package statedir

import (
	"errors"
	"path"
	"strconv"
)

// Default is the state folder for the environment getenv reads.
func Default(getenv func(string) string) (string, error) {
	if d := getenv("TASKS_DIR"); d != "" {
		if !path.IsAbs(d) {
			return "", errors.New("TASKS_DIR=" + strconv.Quote(d) + " is not an absolute path: set it to one, such as $HOME/.local/state/amp-bg-tasks")
		}
		return d, nil
	}
	if d := getenv("XDG_STATE_HOME"); path.IsAbs(d) {
		return path.Join(d, "amp-bg-tasks"), nil
	}
	home := getenv("HOME")
	if home == "" {
		return "", errors.New("no state folder: set TASKS_DIR or HOME")
	}
	return path.Join(home, ".local", "state", "amp-bg-tasks"), nil
}
