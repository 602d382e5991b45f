package promptwake

import (
	"syscall"
	"unsafe"
)

// Thread asks for the calling thread. A goroutine that must be the one
// woken locks itself to its thread first (runtime.LockOSThread).
func Thread() { ask(0) }

// attr is the kernel's struct sched_attr (sched_setattr(2)).
type attr struct {
	size                      uint32
	policy                    uint32
	flags                     uint64
	nice                      int32
	priority                  uint32
	runtime, deadline, period uint64
	utilMin, utilMax          uint32
}

const (
	schedNormal     = 0
	flagResetOnFork = 0x1
	slice           = 100_000 // ns: the shortest Linux takes
	attrSize        = uint32(unsafe.Sizeof(attr{}))
)

// ask gives thread tid (0: the caller) the short slice at its own nice,
// when it runs under the normal policy.
func ask(tid int) {
	if sysSchedGetattr == 0 {
		return
	}
	var a attr
	if _, _, e := syscall.RawSyscall6(sysSchedGetattr, uintptr(tid), uintptr(unsafe.Pointer(&a)), uintptr(attrSize), 0, 0, 0); e != 0 {
		return // Best effort: see the package doc.
	}
	if a.policy != schedNormal {
		return
	}
	if a.size == 0 || a.size > attrSize {
		a.size = attrSize // The kernel writes back the size it knows.
	}
	a.flags |= flagResetOnFork
	a.runtime = slice
	_, _, _ = syscall.RawSyscall(sysSchedSetattr, uintptr(tid), uintptr(unsafe.Pointer(&a)), 0) // Best effort: see the package doc.
}
