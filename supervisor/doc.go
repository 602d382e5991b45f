// Package supervisor runs one background task: it owns the on-disk task
// store, starts a detached supervisor process per task, and inside that
// process runs the command under two PTYs (stdout and stderr stay separate,
// both are terminals), tees them into size-rotated logs, enforces the
// timeout and records the outcome.
//
// The supervisor process is the single writer of a task's status,
// exit_code and finished_at while it lives. Other processes only ask it to
// stop (SIGTERM); when it is gone, Store.Settle records what is left.
package supervisor
