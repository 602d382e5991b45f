//go:build !linux

package callsock

// Address is not available here: see ErrUnsupported.
func Address(exe string) (string, error) { return "", ErrUnsupported }

// Dial is not available here: see ErrUnsupported.
func Dial(addr string) (int, error) { return -1, ErrUnsupported }

// Send is not available here: see ErrUnsupported.
func Send(fd int, r Request, stdio [3]int) error { return ErrUnsupported }

// Answer is not available here: see ErrUnsupported.
func Answer(fd int) (code int, taken bool, err error) { return 0, false, ErrUnsupported }

// SameUser is not available here: see ErrUnsupported.
func SameUser(fd int) error { return ErrUnsupported }

// PeerPID is not available here: see ErrUnsupported.
func PeerPID(fd int) (int, error) { return 0, ErrUnsupported }

// Probe is not available here: see ErrUnsupported.
func Probe(addr string) (int, error) { return 0, ErrUnsupported }

// Listening is not available here: see ErrUnsupported.
func Listening() ([]string, error) { return nil, ErrUnsupported }
