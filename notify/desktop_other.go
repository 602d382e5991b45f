//go:build !linux

package notify

import (
	"context"

	"github.com/gen2brain/beeep"
)

// sendDesktop shows one notification through beeep: osascript on macOS
// (with an empty icon beeep skips terminal-notifier, which is also why
// beeep.AppName, a global, is never read and never set here).
//
// beeep takes no context and starts osascript without a deadline: ctx is
// honoured by the caller (bounded), which abandons a call that overruns
// and lets it finish in the background.
func sendDesktop(_ context.Context, _ []string, _, _, title, body string) error {
	return beeep.Notify(title, body, "")
}
