//go:build !linux

package callserver

import "github.com/amp-bg-tasks/amp-bg-tasks/internal/callsock"

// procContext is what a process's calls would inherit: not read here,
// where there is no server (see callsock.ErrUnsupported).
type procContext []string

func readContext(pid int) (procContext, error) { return nil, callsock.ErrUnsupported }

func (c procContext) differs(o procContext) string { return "" }

func (c procContext) sandboxed() string { return "" }
