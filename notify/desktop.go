package notify

import (
	"context"
	"fmt"

	"github.com/gen2brain/beeep"
)

// beeepSlot is held by the one beeep.Notify call a process may have in
// flight. beeep keeps process-wide state: the sender's name is the global
// beeep.AppName, and on Linux the connection is godbus's cached SessionBus.
// Calls take turns so that setting AppName for one cannot race with
// another reading it, and so that a call abandoned at its deadline (it
// cannot be cancelled) does not pile up behind it more calls that would
// hang the same way: the next caller waits for the slot until its own
// deadline and gives up.
var beeepSlot = make(chan struct{}, 1)

// beeepNotify shows one notification with beeep.Notify, under beeepSlot.
// bind, when not nil, runs first, holding the slot: it checks (and may
// prepare) the process-wide state beeep is about to use.
//
// beeep.Notify takes no context and has no deadline of its own. Its caller
// runs it under bounded (notify.go), which gives up on it at ctx's end and
// leaves it to finish, or not, in a goroutine of its own. That is
// acceptable for the processes notify is written for: the supervisor and
// the reaper send one notification and exit right after, which ends the
// goroutine and its connection; a long-lived caller pays one goroutine,
// and its later notifications fail at their deadline while the slot is
// held.
func beeepNotify(ctx context.Context, app, title, body, icon string, bind func() error) error {
	select {
	case beeepSlot <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("an earlier desktop notification is still in progress: %w", context.Cause(ctx))
	}
	defer func() { <-beeepSlot }()
	if bind != nil {
		if err := bind(); err != nil {
			return err
		}
	}
	// The one place notify sets beeep.AppName, a global of beeep's: on
	// Linux it is the app_name of the D-Bus Notify call, on macOS the
	// -group of terminal-notifier (not used with an empty icon), on
	// Windows the toast's AppID. Setting it per call is acceptable because
	// a process has one Notifier in practice (the supervisor's), and safe
	// because calls hold beeepSlot, so no other beeep.Notify of ours is
	// reading it.
	beeep.AppName = app
	return beeep.Notify(title, body, icon)
}
