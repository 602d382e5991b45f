//go:build linux && !nodbus

package notify

// beeepWithoutDBus: beeep's Linux Notify uses D-Bus (see the nodbus build).
const beeepWithoutDBus = false
