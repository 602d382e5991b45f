// Package promptwake asks the scheduler to run a thread as soon as it is
// woken, for the one thread whose wake-up every bg_run waits on: the
// supervisor's thread that forks the command.
//
// It gives the thread the shortest time slice Linux takes (0.1 ms). Since
// Linux 6.12 (EEVDF's custom slices) a woken thread whose slice is
// shorter than the running one's preempts it; with the default slice a
// woken thread waits until the running one yields. The forking thread is
// woken when the command's exec releases it (vfork), often on the CPU
// where the new shell then starts, and waited out the shell's start-up.
// On the 2-vCPU test VM, a Go program forking `bash -c true` after 100 ms
// idle took 2.1 to 2.5 ms with the default slice and 1.1 to 1.4 ms with
// this one; a whole bg_run, less (BENCHMARKS.md, round 8). Asking for the
// call server's threads and its client's too measured slower, so they
// do not.
//
// What it does not do: change a thread's policy, nice or share of the
// CPU (a slice sets how long a turn is, not how many); pass the slice on
// (it is reset on fork, SCHED_FLAG_RESET_ON_FORK, so a command, its
// processes and any thread started from a prompt one get the default:
// a task never inherits it); ask anything of a thread outside the normal
// policy; or fail: a kernel before 6.12 ignores the slice, and a refusal
// changes only how soon a thread runs, so errors are dropped.
package promptwake
