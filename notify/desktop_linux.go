package notify

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/envlist"
	"github.com/godbus/dbus/v5"
)

// On Linux beeep.Notify sends an org.freedesktop.Notifications call on
// godbus's SessionBus and, when that fails, runs notify-send, then
// kdialog. Left alone it would, on a machine without a desktop, start a
// bus with dbus-launch (godbus autolaunches when the process environment
// names none) or a notify-send that waits for a bus that is not there;
// both outlive the supervisor. So sendDesktop calls it only once these
// guards pass, each bounded by ctx:
//
//  1. The environment (Notifier.Env) names a session bus: an address in
//     DBUS_SESSION_BUS_ADDRESS, else the socket $XDG_RUNTIME_DIR/bus. No
//     address, or an autolaunch: one, is ErrNoSessionBus.
//  2. On a connection of its own (godbus's is cached and has no deadline),
//     the bus answers and org.freedesktop.Notifications has an owner,
//     after asking the bus to start an activatable one (as the first call
//     to it would). Without an owner beeep's call would fail and it would
//     fall back to notify-send. The same connection asks the server's
//     capabilities, for the body markup (see escapeMarkup).
//  3. beeep will use that bus (bindProcessBus): godbus finds the bus in the
//     process environment, not in Notifier.Env, and keeps its connection
//     for the life of the process.
//
// What remains: when the notification server fails the call itself after
// the checks (it errors, or dies in between), beeep still falls back to
// notify-send and kdialog, found on the process's PATH.

const (
	notificationsName  = "org.freedesktop.Notifications"
	notificationsPath  = "/org/freedesktop/Notifications"
	notificationsIface = "org.freedesktop.Notifications"
)

// sendDesktop shows one notification, through beeep, on the session bus
// named in env.
func sendDesktop(ctx context.Context, env []string, app, status, title, body string) error {
	if beeepWithoutDBus {
		return errors.New("built with -tags nodbus: beeep would run notify-send, which notify does not start")
	}
	addr, err := sessionBusAddress(env)
	if err != nil {
		return err
	}
	markup, err := checkServer(ctx, addr)
	if err != nil {
		return err
	}
	// beeep passes the body to the server as it is. A server with
	// body-markup reads it as a subset of HTML: a command like
	// "a < b && c" would come out mangled or not at all.
	if markup {
		body = escapeMarkup(body)
	}
	// A stock icon name. (beeep sends the absolute path instead if a file
	// of that name exists in the working directory; the server then fails
	// to load it as an image and shows its default icon.)
	icon := "dialog-error"
	if status == "completed" || status == "killed" {
		icon = "dialog-information"
	}
	return beeepNotify(ctx, app, title, body, icon, func() error { return bindProcessBus(addr) })
}

// checkServer connects to the bus at addr, makes sure a notification server
// owns org.freedesktop.Notifications and reports whether it reads body
// markup. Every step is bounded by ctx.
func checkServer(ctx context.Context, addr string) (markup bool, err error) {
	// WithContext ties the connection to ctx: godbus closes it when ctx is
	// done, which also ends an authentication the other side never answers.
	conn, err := dbus.Connect(addr, dbus.WithContext(ctx))
	if err != nil {
		return false, fmt.Errorf("session bus %s: %w", addr, err)
	}
	defer func() { _ = conn.Close() }() // Best effort: a private connection, read-only use.

	bus := conn.BusObject()
	var owned bool
	if err := bus.CallWithContext(ctx, "org.freedesktop.DBus.NameHasOwner", 0, notificationsName).Store(&owned); err != nil {
		return false, fmt.Errorf("session bus %s: NameHasOwner(%s): %w", addr, notificationsName, err)
	}
	if !owned {
		// Notification daemons such as dunst and mako are started by the
		// bus on the first call to their name. StartServiceByName does
		// that and answers once the name is owned, or fails at once when
		// the name is not activatable.
		var reply uint32
		if err := bus.CallWithContext(ctx, "org.freedesktop.DBus.StartServiceByName", 0, notificationsName, uint32(0)).Store(&reply); err != nil {
			return false, fmt.Errorf("no notification server: nobody owns %s on %s and the bus cannot start one: %w", notificationsName, addr, err)
		}
	}
	var caps []string
	if err := conn.Object(notificationsName, notificationsPath).CallWithContext(ctx, notificationsIface+".GetCapabilities", 0).Store(&caps); err != nil {
		return false, fmt.Errorf("%s: GetCapabilities: %w", notificationsName, err)
	}
	return slices.Contains(caps, "body-markup"), nil
}

// boundBus is the bus beeep was pointed at by the first bindProcessBus;
// guarded by beeepSlot.
var boundBus string

// bindProcessBus makes sure that beeep's call goes to the bus at addr.
// beeep connects with godbus's SessionBus, which reads
// DBUS_SESSION_BUS_ADDRESS from the process environment (and, when it is
// unset, looks in /run/user/$UID, then runs dbus-launch), and which is
// cached: the first call decides the bus for the life of the process.
// So:
//   - the process environment names addr: nothing to do;
//   - it names no bus (addr came from XDG_RUNTIME_DIR, or from a
//     Notifier.Env of the caller's): DBUS_SESSION_BUS_ADDRESS is set to addr
//     in the process, as godbus does itself when it finds a bus, and the
//     only change notify makes to the process environment;
//   - it names another bus, or an earlier notification went to another
//     bus: an error, since beeep cannot be pointed at addr in this process.
//
// It runs holding beeepSlot.
func bindProcessBus(addr string) error {
	if boundBus != "" && boundBus != addr {
		return fmt.Errorf("session bus %s: this process already sent desktop notifications to %s, and beeep's connection (godbus's SessionBus) is kept per process", addr, boundBus)
	}
	switch cur := os.Getenv("DBUS_SESSION_BUS_ADDRESS"); cur {
	case addr:
	case "":
		if err := os.Setenv("DBUS_SESSION_BUS_ADDRESS", addr); err != nil {
			return fmt.Errorf("session bus %s: pointing beeep at it: %w", addr, err)
		}
	default:
		return fmt.Errorf("session bus %s: beeep would use the process's DBUS_SESSION_BUS_ADDRESS=%s instead (Notifier.Env and the process environment disagree)", addr, cur)
	}
	boundBus = addr
	return nil
}

// sessionBusAddress finds the session bus the way libdbus does, minus
// autolaunch: DBUS_SESSION_BUS_ADDRESS, else the socket $XDG_RUNTIME_DIR/bus
// that systemd user sessions provide.
func sessionBusAddress(env []string) (string, error) {
	if addr := envlist.Get(env, "DBUS_SESSION_BUS_ADDRESS"); addr != "" {
		if strings.HasPrefix(addr, "autolaunch:") {
			return "", fmt.Errorf("%w: DBUS_SESSION_BUS_ADDRESS=%s would start one", ErrNoSessionBus, addr)
		}
		return addr, nil
	}
	if dir := envlist.Get(env, "XDG_RUNTIME_DIR"); dir != "" {
		path := filepath.Join(dir, "bus")
		if fi, err := os.Stat(path); err == nil && fi.Mode().Type() == os.ModeSocket {
			return "unix:path=" + dbus.EscapeBusAddressValue(path), nil
		}
	}
	return "", fmt.Errorf("%w: DBUS_SESSION_BUS_ADDRESS is unset and $XDG_RUNTIME_DIR/bus is not a socket", ErrNoSessionBus)
}

var markupEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// escapeMarkup makes s show as itself on a server that supports body
// markup.
func escapeMarkup(s string) string { return markupEscaper.Replace(s) }

// CheckDesktop reports why desktop notifications cannot be shown with the
// environment env, or nil when a notification server answers on the
// session bus. It shows nothing.
func CheckDesktop(ctx context.Context, env []string) error {
	if beeepWithoutDBus {
		return errors.New("built with -tags nodbus")
	}
	addr, err := sessionBusAddress(env)
	if err != nil {
		return err
	}
	_, err = checkServer(ctx, addr)
	return err
}
