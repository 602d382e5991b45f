//go:build !linux

package promptwake

// Thread asks nothing where the scheduler takes no slice request.
func Thread() {}
