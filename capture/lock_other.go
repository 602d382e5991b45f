//go:build !unix

package capture

// lockCursors is a no-op where flock is missing: parallel since-reads of
// one reader may then return the same lines twice.
func lockCursors(dir string) (unlock func(), err error) { return func() {}, nil }
