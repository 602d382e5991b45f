package remote_test

import (
	"testing"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/remote"
)

// A record is named by its task id: only an id the supervisor could have
// made is taken, as taskid.ValidID says.
func TestRecordsTakeOnlyTaskIDs(t *testing.T) {
	recs := remote.RecordsIn(t.TempDir())
	for _, tc := range []struct {
		id string
		ok bool
	}{
		{"task-1795952714-05a08574", true},
		{"task-1-far", true},
		{"task-1", false},       // no suffix
		{"task--", false},       // no seconds, no suffix
		{"task-x-1", false},     // seconds that are not digits
		{"task-1-a-b", false},   // a dash in the suffix
		{"task-1-", false},      // an empty suffix
		{"task-1-ab/..", false}, // a path
		{".down-x", false},
	} {
		err := recs.Put(remote.Record{ID: tc.id, Host: "h", StartedAt: time.Now()})
		if (err == nil) != tc.ok {
			t.Errorf("Put %q: %v, want ok=%v", tc.id, err, tc.ok)
		}
		if _, got := recs.Get(tc.id); got != tc.ok {
			t.Errorf("Get %q after Put: %v, want %v", tc.id, got, tc.ok)
		}
	}
}
