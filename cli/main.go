package cli

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"github.com/amp-bg-tasks/amp-bg-tasks/toolbox"
)

// Main runs the program named by args[0] and returns its exit code: a
// task's supervisor or a toolbox entry (bg-run, ...; see toolbox.Serve),
// bg-reaper (bgtask reap), or the command line with the commands every
// build has and extra. It is the only place that decides one.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer, extra ...Command) toolbox.ExitCode {
	if code, ok := toolbox.Serve(args, stdin, stdout, stderr, stackParser(extra)); ok {
		return code
	}
	a, err := toolbox.NewApp(stdin, stdout, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "bgtask:", err)
		return toolbox.ExitError
	}
	name := filepath.Base(args[0])
	if name == "bg-reaper" {
		return Run(context.Background(), a, name, append([]string{"reap"}, args[1:]...), extra...)
	}
	return Run(context.Background(), a, name, args[1:], extra...)
}
