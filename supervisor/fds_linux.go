package supervisor

import (
	"os"
	"strconv"
)

// closeInherited closes every descriptor above stderr that the supervisor
// inherited from its caller, except those in keep (the readiness pipe; a
// spare's job pipe too), and marks those close-on-exec. A caller's descriptors without close-on-exec (a
// pipe its own caller reads until end of file, say) would otherwise stay
// open for the task's whole life, and the command must get exactly stdin,
// stdout and stderr. The Go runtime opens its own descriptors
// close-on-exec, so only inherited ones lack the flag.
func closeInherited(keep ...int) {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		closeInheritedUpTo(1024, keep...)
		return
	}
	for _, e := range ents {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
			closeIfInherited(fd, keep...)
		}
	}
}
