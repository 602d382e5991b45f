// Package notify tells a human that a background task ended badly: a desktop
// notification and an optional user command (BG_NOTIFY_CMD) for people
// without a desktop (ntfy, terminal-notifier, a chat webhook).
//
// A Mode (BG_NOTIFY, or bg_run's notify parameter) selects the endings worth
// a notification: by default failed, timeout and reaped, never completed
// or killed. Title and Body turn an Event into the notification's text, and
// a Notifier sends it.
//
// The desktop notification goes through beeep.Notify on every system
// (osascript on macOS). On Linux beeep makes an org.freedesktop.Notifications
// call on godbus's session bus connection, and falls back to notify-send
// and kdialog; unguarded, on a machine without a desktop it would start a
// bus with dbus-launch or a notify-send, either of which outlives the
// caller. So notify calls it only after checking, each check bounded in
// time, that the Notifier's environment names a session bus (else
// ErrNoSessionBus), that the bus answers and a notification server owns
// org.freedesktop.Notifications (over a short-lived connection of its
// own), and that beeep will reach that same bus. beeep and godbus take the
// bus from the process environment and keep the connection for the life
// of the process: a process notifies on one session bus, the one its
// environment names (notify sets DBUS_SESSION_BUS_ADDRESS in the process
// when it is unset and the bus was found through XDG_RUNTIME_DIR or
// Notifier.Env), and a Notifier.Env naming another bus is an error, not a
// notification on the wrong bus. That suits the supervisor and the reaper,
// which send one notification and exit. One gap remains: a notification
// server that fails the call itself, after the checks, still makes beeep
// fall back to notify-send and kdialog. beeep also fixes the display time
// at 5 seconds. See desktop_linux.go.
//
// Sending is bounded in time and never blocks its caller for more than a few
// seconds: with no session bus, no notification daemon or a hanging hook it
// returns an error for the caller to log, and the caller moves on. beeep
// takes no deadline, so a beeep call that overruns is abandoned to a
// goroutine, which ends when the (short-lived) process exits.
//
// notify does not decide or record a task's status (the caller records it
// before notifying), does not read task folders, does not clean escape codes
// from output (the caller passes a clean last line), does not start a
// session bus when there is none, and does not retry.
package notify
