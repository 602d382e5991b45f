package promptwake

// The syscall package has no numbers for these on amd64.
const (
	sysSchedSetattr = 314
	sysSchedGetattr = 315
)
