package supervisor

import (
	"bytes"
	"strconv"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/smallfile"
)

// stopped reports whether process pid is stopped (SIGSTOP, or held by a
// tracer): /proc/<pid>/stat's state is T or t. One read of a small file.
func stopped(pid int) bool {
	b, err := smallfile.Read("/proc/"+strconv.Itoa(pid)+"/stat", 512, 4096)
	if err != nil {
		return false
	}
	// The state follows the command's name, which may hold anything.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return false
	}
	return b[i+2] == 'T' || b[i+2] == 't'
}
