//go:build linux && nodbus

package notify

// beeepWithoutDBus: with -tags nodbus beeep's Linux Notify has no D-Bus
// path and only runs notify-send; sendDesktop refuses rather than start it.
const beeepWithoutDBus = true
