//go:build !linux

package supervisor

import "os"

// storeListBuf is unused here (see the Linux version).
const storeListBuf = 32 << 10

// eachName calls fn with each name in dir (see the Linux version, which
// makes no string of a name it does not keep).
func eachName(dir string, _ int, fn func(name []byte, maybeDir bool)) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }() // Read only.
	names, err := f.Readdirnames(-1)
	for _, name := range names {
		fn([]byte(name), true)
	}
	return err
}
