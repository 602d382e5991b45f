package cli

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/callsock"
	"github.com/amp-bg-tasks/amp-bg-tasks/toolbox"
)

// Main runs the program named by args[0] and returns its exit code: a
// task's supervisor or a toolbox entry (bg-run, ...; see toolbox.Serve),
// the resident call server (args[1] is callsock.ServeArg), bg-reaper
// (bgtask reap), or the command line with the commands every build has
// and extra. It is the only place that decides one.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer, extra ...Command) toolbox.ExitCode {
	if len(args) > 1 && args[1] == callsock.ServeArg {
		return serveCalls(args[2:], stderr, extra)
	}
	if code, ok := toolbox.Serve(args, stdin, stdout, stderr, stackParser(extra)); ok {
		return code
	}
	return MainIn(context.Background(), toolbox.ProcessInvocation(args, stdin, stdout, stderr), extra...)
}

// MainIn runs what inv names that a process or the call server may run
// for it: a toolbox entry, bg-reaper, or the command line.
func MainIn(ctx context.Context, inv toolbox.Invocation, extra ...Command) toolbox.ExitCode {
	if code, ok := toolbox.ServeIn(ctx, inv, stackParser(extra)); ok {
		return code
	}
	a, err := inv.App()
	if err != nil {
		fmt.Fprintln(inv.Stderr, "bgtask:", err)
		return toolbox.ExitError
	}
	name := filepath.Base(inv.Args[0])
	if name == callsock.Reaper {
		return Run(ctx, a, name, append([]string{"reap"}, inv.Args[1:]...), extra...)
	}
	return Run(ctx, a, name, inv.Args[1:], extra...)
}
