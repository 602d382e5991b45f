package promptwake

import "syscall"

const (
	sysSchedSetattr = syscall.SYS_SCHED_SETATTR
	sysSchedGetattr = syscall.SYS_SCHED_GETATTR
)
