package remote

import (
	"errors"
	"fmt"
	"io/fs"
	"os/exec"
	"strings"
)

// Kind says what went wrong in reaching a host.
type Kind int

const (
	KindSSH            Kind = iota // another failure of ssh; Detail has its words
	KindNoSSH                      // no ssh program to run
	KindHostKeyUnknown             // the host's key is not in known_hosts
	KindHostKeyChanged             // the host's key differs from known_hosts
	KindAuth                       // the host refused our keys
	KindUnreachable                // no connection: name, route, refused, timeout
	KindDropped                    // the connection broke during the call
	KindRemote                     // the host answered, and what ran there failed
)

// Error is a failure to reach a host or to run something there, with
// what to do about it.
type Error struct {
	Host   string
	Kind   Kind
	Detail string // ssh's (or the host's) own words
	Fix    string // what to do
	Err    error  // the underlying error, if any
}

func (e *Error) Error() string {
	what := map[Kind]string{
		KindNoSSH:          "cannot run ssh",
		KindHostKeyUnknown: "its host key is not known here",
		KindHostKeyChanged: "its host key CHANGED",
		KindAuth:           "it refused our keys",
		KindUnreachable:    "it cannot be reached",
		KindDropped:        "the connection dropped during the call",
	}[e.Kind]
	msg := "host " + e.Host
	if what != "" {
		msg += ": " + what
	}
	if e.Detail != "" {
		msg += " (" + e.Detail + ")"
	}
	if e.Fix != "" {
		msg += ". " + e.Fix
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// IsKind reports whether err is an *Error of kind k.
func IsKind(err error, k Kind) bool {
	var e *Error
	return errors.As(err, &e) && e.Kind == k
}

// classify turns a failed ssh run (exit status 255, or not started) into
// an *Error, from what ssh printed.
func classify(host string, command []string, err error, stderr string) *Error {
	e := &Error{Host: host, Kind: KindSSH, Err: err, Detail: lastLines(stderr, 2)}
	name := "ssh"
	if len(command) > 0 {
		name = command[0]
	}
	low := strings.ToLower(stderr)
	has := func(words ...string) bool {
		for _, w := range words {
			if strings.Contains(low, w) {
				return true
			}
		}
		return false
	}
	switch {
	case errors.Is(err, exec.ErrNotFound) || errors.As(err, new(*fs.PathError)):
		e.Kind, e.Detail = KindNoSSH, err.Error()
		e.Fix = fmt.Sprintf("Install the OpenSSH client (Debian/Ubuntu: apt-get install openssh-client; it comes with macOS), or set BG_SSH to your ssh command (it names %q now)", name)
	case has("remote host identification has changed", "host key for", "offending"):
		e.Kind, e.Detail = KindHostKeyChanged, firstLine(stderr, "has changed and")+"; "+firstLine(stderr, "offending")
		e.Fix = fmt.Sprintf("If you know why (the host was reinstalled), remove the old key with `ssh-keygen -R <its name>` (the offending line), then run `ssh %s` once in a terminal to check and accept the new one; otherwise someone may be in the middle, and bgtask will not connect", host)
	case has("host key verification failed", "no ed25519 host key is known", "host key is known"):
		e.Kind = KindHostKeyUnknown
		e.Fix = fmt.Sprintf("Run `ssh %s` once in a terminal, check the fingerprint it shows and accept it; bgtask never accepts a host key by itself", host)
	case has("permission denied", "too many authentication failures", "no supported authentication"):
		e.Kind = KindAuth
		e.Fix = fmt.Sprintf("`ssh %s true` must log in without a prompt: load your key into the agent (ssh-add) or install it there (ssh-copy-id %s)", host, host)
	case has("could not resolve hostname", "name or service not known", "no route to host", "connection refused",
		"connection timed out", "operation timed out", "network is unreachable", "kex_exchange_identification",
		"connection closed by remote host", "banner exchange"):
		e.Kind = KindUnreachable
		e.Fix = fmt.Sprintf("Check that `ssh %s true` works from here (the name, the network, a VPN, the machine being up)", host)
	case has("broken pipe", "mux_client", "connection reset", "timeout, server", "timed out waiting", "closed by", "client_loop", "control socket"):
		e.Kind = KindDropped
		e.Fix = "What runs there keeps running; call again to reconnect"
	case stderr == "":
		e.Kind = KindDropped
		e.Detail = "ssh ended without a word"
		e.Fix = "What runs there keeps running; call again to reconnect"
	}
	return e
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	var keep []string
	for _, l := range lines {
		l = strings.TrimSpace(strings.TrimLeft(l, "@ "))
		if l != "" {
			keep = append(keep, l)
		}
	}
	if len(keep) > n {
		keep = keep[len(keep)-n:]
	}
	return strings.Join(keep, "; ")
}

// firstLine is the first line of s holding word (lower case).
func firstLine(s, word string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(strings.ToLower(l), word) {
			return strings.TrimSpace(l)
		}
	}
	return lastLines(s, 1)
}
