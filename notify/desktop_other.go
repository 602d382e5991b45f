//go:build !linux

package notify

import "context"

// sendDesktop shows one notification through beeep: osascript on macOS
// (with an empty icon beeep skips terminal-notifier), a toast on Windows.
// There is no session bus to check first; the environment is not read.
//
// beeep takes no context and starts osascript without a deadline: ctx is
// honoured by the caller (bounded), which abandons a call that overruns
// and lets it finish in the background (see beeepNotify).
func sendDesktop(ctx context.Context, _ []string, app, _, title, body string) error {
	return beeepNotify(ctx, app, title, body, "", nil)
}

// CheckDesktop has nothing to check here: macOS and Windows always have a
// way to show a notification.
func CheckDesktop(context.Context, []string) error { return nil }
