package toolbox

import (
	"context"
	"fmt"
	"slices"

	"github.com/amp-bg-tasks/amp-bg-tasks/remote"
)

// HostInfo is what is known of one other host used from here (a line of
// `bgtask hosts`).
type HostInfo struct {
	Host      string `json:"host"`
	Reachable bool   `json:"reachable"`
	Error     string `json:"error,omitempty"`
	Version   string `json:"version,omitempty"`  // deployed there
	Platform  string `json:"platform,omitempty"` // linux/amd64
	Running   int    `json:"running"`            // tasks running there (all of them)
	Tasks     int    `json:"tasks"`              // tasks started from here, known
}

// Hosts asks every host used from here (deployed to, or holding tasks
// started from here) whether it answers, each within listHostTimeout,
// and returns them in the order first used.
func (a *App) Hosts(ctx context.Context) ([]HostInfo, error) {
	d, err := a.remoteDeployer()
	if err != nil {
		return nil, err
	}
	var hosts []string
	deployed := map[string]remote.Deployed{}
	for _, dep := range d.KnownHosts() {
		deployed[dep.Host] = dep
		hosts = append(hosts, dep.Host)
	}
	counts := map[string]int{}
	for _, r := range remote.RecordsIn(a.Store.Dir).List() {
		counts[r.Host]++
		if !slices.Contains(hosts, r.Host) {
			hosts = append(hosts, r.Host)
		}
	}
	infos := eachHost(ctx, hosts, listHostTimeout, func(hctx context.Context, h string) HostInfo {
		info := HostInfo{Host: h, Tasks: counts[h], Version: deployed[h].Version, Platform: deployed[h].Platform}
		l, err := (sshTasks{a: a, host: h}).listThere(hctx, StatusInput{})
		if err != nil {
			info.Error = err.Error()
			if hctx.Err() != nil {
				info.Error = fmt.Sprintf("no answer within %s", listHostTimeout)
			}
			return info
		}
		info.Reachable, info.Running = true, l.Summary.Running
		if dep, ok := d.Known(h); ok {
			info.Version, info.Platform = dep.Version, dep.Platform
		}
		return info
	})
	return infos, nil
}

// WithPrivateReader makes the calls made with ctx read through reader,
// whatever the environment says: their read cursors move no agent's
// (bgtask logs on another host). See PrivateReader.
func WithPrivateReader(ctx context.Context, reader string) context.Context {
	return context.WithValue(ctx, privateReaderKey{}, reader)
}
