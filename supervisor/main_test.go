package supervisor

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/envlist"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/helperproc"
)

// The test binary plays a task's supervisor (Store.Start runs it with
// SuperviseArg; a spare, with SpareArg after it, takes its task first)
// and the commands tasks run (the helpers registered here).
func TestMain(m *testing.M) {
	var ahead *Ahead
	var record []string
	env := os.Environ()
	if len(os.Args) == 3 && os.Args[1] == SuperviseArg && os.Args[2] == SpareArg {
		ahead = PrepareSpare(context.Background())
		job, err := ahead.TakeJob()
		if err != nil {
			os.Exit(0) // No job: its Spares closed.
		}
		os.Args, record, env = []string{os.Args[0], SuperviseArg, job.Staging, job.Dir}, job.Record, job.Env
	}
	if len(os.Args) > 3 && os.Args[1] == SuperviseArg {
		if d, err := time.ParseDuration(envlist.Get(env, slowReportEnv)); err == nil {
			time.Sleep(d)
		}
		if stream := envlist.Get(env, blockLogEnv); stream != "" {
			_ = os.Mkdir(filepath.Join(os.Args[2], stream), 0o700) // The test sees what it gets.
		}
		sv := &Supervisor{Staging: os.Args[2], Dir: os.Args[3], Record: record, Ready: os.NewFile(3, "ready"), Ahead: ahead,
			Env: env, Log: log.New(os.Stderr, "supervisor: ", 0),
			OnRestart: func(_ context.Context, t *Task) { appendLine(filepath.Join(t.Dir, "events"), "restarting") },
			OnFinish: func(_ context.Context, t *Task) {
				appendLine(filepath.Join(t.Dir, "events"), fmt.Sprintf("finished %s after %d restarts", t.Status, t.Restarts))
				if v := os.Getenv(callerSaysEnv); v != "" {
					// What a notification would read from the environment.
					appendLine(filepath.Join(t.Dir, "events"), "the supervisor's environment says "+v)
				}
			},
		}
		if err := sv.Run(context.Background()); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	helpers.Register("crash-times", crashTimes)
	helpers.Register("hang", helperproc.Hang)
	helpers.Main(m)
}

var helpers helperproc.Registry

// slowReportEnv makes the test binary, as a supervisor, wait that long
// (a duration) before it starts, so before it reports the command
// running.
const slowReportEnv = "BGTEST_SLOW_REPORT"

// blockLogEnv makes the test binary, as a supervisor, put a folder where
// the task's log of that stream (stdout, stderr) would go, so that the
// log cannot be opened.
const blockLogEnv = "BGTEST_BLOCK_LOG"

// crashTimes FILE N prints a line, then exits 3 the first N times it is
// run (counted in FILE) and stays up after, printing "up".
func crashTimes(args []string) int {
	b, _ := os.ReadFile(args[0])
	n, _ := strconv.Atoi(args[1])
	runs := len(b)
	_ = os.WriteFile(args[0], append(b, 'x'), 0o600)
	if runs < n {
		fmt.Printf("run %d: crashing", runs+1) // No newline: the marker starts its own line.
		return 3
	}
	fmt.Println("up")
	return helperproc.Hang(nil)
}

func appendLine(path, line string) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	_, _ = fmt.Fprintln(f, line)
}
