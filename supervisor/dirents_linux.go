//go:build linux

package supervisor

import (
	"encoding/binary"
	"io/fs"
	"syscall"
)

// storeListBuf is the read buffer for listing a store: a thousand
// task names in about four reads.
const storeListBuf = 32 << 10

// eachName calls fn with each name in dir but "." and "..", in the
// order the file system gives them, and whether it may be a folder (it
// is, or the file system does not say). name is only valid during the call
// (it points into a read buffer): the reaper looks at a thousand names
// on every shell start and keeps few, so none is made a string unless
// kept. bufSize is the read buffer: the names of one read at a time.
func eachName(dir string, bufSize int, fn func(name []byte, maybeDir bool)) error {
	fd, err := syscall.Open(dir, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return &fs.PathError{Op: "open", Path: dir, Err: err}
	}
	defer func() { _ = syscall.Close(fd) }() // Read only.
	buf := make([]byte, max(bufSize, 1<<10))
	for {
		n, err := syscall.ReadDirent(fd, buf)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return &fs.PathError{Op: "readdirent", Path: dir, Err: err}
		}
		if n <= 0 {
			return nil
		}
		// struct linux_dirent64: ino u64, off s64, reclen u16, type u8,
		// then the name, NUL-terminated, padded to reclen.
		for rec := buf[:n]; len(rec) >= 19; {
			reclen := int(binary.NativeEndian.Uint16(rec[16:18]))
			if reclen < 19 || reclen > len(rec) {
				break // Not a record: give up on this buffer.
			}
			name := rec[19:reclen]
			for i, c := range name {
				if c == 0 {
					name = name[:i]
					break
				}
			}
			ino := binary.NativeEndian.Uint64(rec[0:8])
			if ino != 0 && string(name) != "." && string(name) != ".." {
				typ := rec[18]
				fn(name, typ == syscall.DT_DIR || typ == syscall.DT_UNKNOWN)
			}
			rec = rec[reclen:]
		}
	}
}
