// Package notify tells a human that a background task ended badly: a desktop
// notification and an optional user command (BG_NOTIFY_CMD) for people
// without a desktop (ntfy, terminal-notifier, a chat webhook).
//
// A Mode (BG_NOTIFY, or bg_run's notify parameter) selects the endings worth
// a notification: by default failed, timeout and reaped, never completed
// or killed. Title and Body turn an Event into the notification's text, and
// a Notifier sends it.
//
// On Linux the desktop notification is an org.freedesktop.Notifications
// call on the session bus named by the Notifier's environment, over a
// private godbus connection; elsewhere it goes through beeep (osascript on
// macOS). See desktop_linux.go for why Linux does not use beeep.
//
// Sending is bounded in time and never blocks its caller for more than a few
// seconds: with no session bus, no notification daemon or a hanging hook it
// returns an error for the caller to log, and the caller moves on.
//
// notify does not decide or record a task's status (the caller records it
// before notifying), does not read task folders, does not clean escape codes
// from output (the caller passes a clean last line), does not start a
// session bus when there is none, and does not retry.
package notify
