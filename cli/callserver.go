package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/amp-bg-tasks/amp-bg-tasks/callserver"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/callsock"
	"github.com/amp-bg-tasks/amp-bg-tasks/toolbox"
)

// serveCalls is the hidden entry point of the resident call server
// (`bgtask-tool __callserver [-idle D]`, started by cmd/bgtask-call): it
// answers each call as MainIn would have in a process of the caller's.
func serveCalls(args []string, stderr io.Writer, extra []Command) toolbox.ExitCode {
	fs := flag.NewFlagSet(callsock.ServeArg, flag.ContinueOnError)
	fs.SetOutput(stderr)
	idle := fs.Duration("idle", callserver.DefaultIdle, "end after this long without a call")
	if err := fs.Parse(args); err != nil {
		return toolbox.ExitError
	}
	if fs.NArg() > 0 || *idle <= 0 {
		fmt.Fprintf(stderr, "%s: takes only -idle, a positive duration\n", callsock.ServeArg)
		return toolbox.ExitError
	}
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintln(stderr, "bgtask: call server:", err)
		return toolbox.ExitError
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer stop()
	resident := toolbox.NewResident(exe)
	defer resident.Close()
	err = callserver.Serve(ctx, exe, callserver.Options{
		Idle:      *idle,
		Log:       stderr,
		AfterCall: resident.AfterCall,
		Handle: func(ctx context.Context, c callserver.Call) int {
			inv := toolbox.Invocation{Args: c.Args, Environ: c.Environ, Wd: c.Wd, Stdin: c.Stdin, Stdout: c.Stdout, Stderr: c.Stderr, Resident: resident}
			return int(MainIn(ctx, inv, extra...))
		},
	})
	if errors.Is(err, callserver.ErrRunning) {
		return toolbox.ExitOK // Two clients started one each: the other serves.
	}
	if err != nil {
		fmt.Fprintln(stderr, "bgtask:", err)
		return toolbox.ExitError
	}
	return toolbox.ExitOK
}
