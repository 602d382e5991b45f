package minutes

import (
	"math"
	"testing"
	"time"
)

func TestDuration(t *testing.T) {
	for _, tc := range []struct {
		m    float64
		want time.Duration
	}{
		{0, 0},
		{1, time.Minute},
		{1.5, 90 * time.Second},
		{180, 3 * time.Hour},
		{1e-12, 1},                           // Tiny, never none.
		{1e9, math.MaxInt64},                 // Beyond the range: the longest, not negative.
		{math.Inf(1), math.MaxInt64},         // Never.
		{153722868, math.MaxInt64},           // Just past the range (2^63-1 ns is 153722867.3 minutes).
		{153722867, 153722867 * time.Minute}, // Just within it.
	} {
		if got := Duration(tc.m); got != tc.want {
			t.Errorf("Duration(%g) = %v, want %v", tc.m, got, tc.want)
		}
	}
}
