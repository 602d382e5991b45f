//go:build linux && !amd64 && !arm64

package promptwake

// Not asked on other architectures (none is built for them).
const (
	sysSchedSetattr = 0
	sysSchedGetattr = 0
)
