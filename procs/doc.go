// Package procs finds and ends a task's process tree.
//
// A task's tree is every descendant of its root process by parent links,
// plus every process whose environment carries the task's BG_TASK_ID marker
// (double-forked or setsid daemons that left the process group). Processes
// are identified by PID together with their start time, so a PID the OS
// has reused is never mistaken for the one that was recorded, and processes
// of other users are never signalled.
//
// procs reads the process table once per walk (gopsutil's Children shells
// out to pgrep for every call, see NOTES) and does not start processes.
package procs
