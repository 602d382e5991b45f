package notify

import (
	"context"
	"encoding/gob"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/helperproc"
)

// The test binary also plays a sender (the helper "sender", registered
// by desktop_linux_test.go): it reads the senderCalls gob-encoded in the
// file named by its argument, makes them in order in this process and
// prints their senderResults as JSON on stdout (see runSender). Sending
// happens in a child process because beeep's session bus is godbus's
// SessionBus, which is found in the process environment and cached for
// the life of the process, and because beeep.AppName is a global: each
// test needs a process, and an environment, of its own.

// slowBox is the Timeout of Notifiers in tests where sending must succeed:
// DefaultTimeout (3s) is not what they test, and a loaded box can exceed it.
const slowBox = 30 * time.Second

// senderCall is one Notify call. It is gob-encoded, which keeps the bytes
// of invalid UTF-8 (JSON would not) but turns an empty Env into a nil one.
type senderCall struct {
	Notifier Notifier
	Event    Event
}

type senderResult struct {
	Sent             bool
	Err              string // "" for nil.
	NoSessionBus     bool   // errors.Is(err, ErrNoSessionBus)
	DeadlineExceeded bool   // errors.Is(err, context.DeadlineExceeded)
	Elapsed          time.Duration
}

func TestMain(m *testing.M) { helpers.Main(m) }

// helpers is this package's registry of helper processes.
var helpers helperproc.Registry

// sender is the helper that makes the calls in the file args[0].
func sender(args []string) int {
	if err := send(args[0]); err != nil {
		fmt.Fprintln(os.Stderr, "sender:", err)
		return 2
	}
	// Exit at once, as the supervisor does after notifying: this ends
	// beeep calls abandoned at their deadline.
	return 0
}

func send(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }() // Read only.
	var calls []senderCall
	if err := gob.NewDecoder(f).Decode(&calls); err != nil {
		return err
	}
	results := make([]senderResult, 0, len(calls))
	for _, c := range calls {
		start := time.Now()
		sent, err := c.Notifier.Notify(context.Background(), c.Event)
		r := senderResult{Sent: sent, Elapsed: time.Since(start)}
		if err != nil {
			r.Err = err.Error()
			r.NoSessionBus = errors.Is(err, ErrNoSessionBus)
			r.DeadlineExceeded = errors.Is(err, context.DeadlineExceeded)
		}
		results = append(results, r)
	}
	return json.NewEncoder(os.Stdout).Encode(results)
}
