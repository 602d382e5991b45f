package notify

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/godbus/dbus/v5"
)

// On Linux notify speaks to org.freedesktop.Notifications itself, with
// godbus, instead of calling beeep.Notify, which does the same call but
// cannot be bounded or pointed at a bus: it uses godbus's process-wide
// SessionBus, found from the process environment (and autolaunching a bus
// with dbus-launch, which then outlives us, when there is none), sends
// without a deadline, then falls back to notify-send and kdialog, started
// without one either, and takes the sender's name from the global
// beeep.AppName. Here the bus comes from Notifier.Env, the connection is
// private and closed after one notification, and ctx bounds every step.

const (
	notificationsName  = "org.freedesktop.Notifications"
	notificationsPath  = "/org/freedesktop/Notifications"
	notificationsIface = "org.freedesktop.Notifications"
)

// sendDesktop shows one notification through the session bus named in env.
func sendDesktop(ctx context.Context, env []string, app, status, title, body string) error {
	addr, err := sessionBusAddress(env)
	if err != nil {
		return err
	}
	// WithContext ties the connection to ctx: godbus closes it when ctx is
	// done, which also ends an authentication the other side never answers.
	conn, err := dbus.Connect(addr, dbus.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("session bus %s: %w", addr, err)
	}
	defer func() { _ = conn.Close() }() // Best effort: the notification is already sent or failed.

	obj := conn.Object(notificationsName, notificationsPath)
	var caps []string
	if err := obj.CallWithContext(ctx, notificationsIface+".GetCapabilities", 0).Store(&caps); err != nil {
		return fmt.Errorf("%s: %w", notificationsName, err)
	}
	// A server with body-markup reads the body as a subset of HTML: a
	// command like "a < b && c" would come out mangled or not at all.
	if slices.Contains(caps, "body-markup") {
		body = escapeMarkup(body)
	}
	icon := "dialog-error"
	if status == "completed" || status == "killed" {
		icon = "dialog-information"
	}
	hints := map[string]dbus.Variant{"urgency": dbus.MakeVariant(byte(1))} // Normal.
	var id uint32
	err = obj.CallWithContext(ctx, notificationsIface+".Notify", 0,
		app, uint32(0), icon, title, body, []string{}, hints,
		int32(-1), // The server's default display time.
	).Store(&id)
	if err != nil {
		return fmt.Errorf("%s: %w", notificationsName, err)
	}
	return nil
}

// sessionBusAddress finds the session bus the way libdbus does, minus
// autolaunch: DBUS_SESSION_BUS_ADDRESS, else the socket $XDG_RUNTIME_DIR/bus
// that systemd user sessions provide.
func sessionBusAddress(env []string) (string, error) {
	if addr := lookupEnv(env, "DBUS_SESSION_BUS_ADDRESS"); addr != "" {
		if strings.HasPrefix(addr, "autolaunch:") {
			return "", fmt.Errorf("%w: DBUS_SESSION_BUS_ADDRESS=%s would start one", ErrNoSessionBus, addr)
		}
		return addr, nil
	}
	if dir := lookupEnv(env, "XDG_RUNTIME_DIR"); dir != "" {
		path := dir + "/bus"
		if fi, err := os.Stat(path); err == nil && fi.Mode().Type() == os.ModeSocket {
			return "unix:path=" + dbus.EscapeBusAddressValue(path), nil
		}
	}
	return "", fmt.Errorf("%w: DBUS_SESSION_BUS_ADDRESS is unset and $XDG_RUNTIME_DIR/bus is not a socket", ErrNoSessionBus)
}

// lookupEnv returns the value of the last key=value entry of env, as
// os/exec and getenv(3) implementations that dedupe do.
func lookupEnv(env []string, key string) string {
	for _, kv := range slices.Backward(env) {
		if v, ok := strings.CutPrefix(kv, key+"="); ok {
			return v
		}
	}
	return ""
}

var markupEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// escapeMarkup makes s show as itself on a server that supports body
// markup.
func escapeMarkup(s string) string { return markupEscaper.Replace(s) }
