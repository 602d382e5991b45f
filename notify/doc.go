// Package notify tells a human that a background task ended badly: a desktop
// notification through beeep (D-Bus on Linux, osascript on macOS) and an
// optional user command (BG_NOTIFY_CMD) for people without a desktop.
//
// Sending is bounded in time and never blocks its caller for more than a few
// seconds: with no session bus, no notification daemon or a hanging hook it
// returns an error for the caller to log, and the caller moves on. notify
// does not decide a task's status and does not read task folders.
package notify
