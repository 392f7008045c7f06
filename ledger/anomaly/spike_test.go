package anomaly

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 3, 9, 0, 0, 0, time.UTC)

func hour(i int) time.Time { return t0.Add(time.Duration(i) * time.Hour) }

func TestSpikeRule(t *testing.T) {
	rule := SpikeRule{Factor: 3, MinCount: 20, Baseline: 4}
	// A steady department (10 an hour) then 31 at hour 0: median 10, 31 > 30.
	var counts []HourCount
	for i := -4; i < 0; i++ {
		counts = append(counts, HourCount{"B-STEADY", hour(i), 10})
	}
	counts = append(counts, HourCount{"B-STEADY", hour(0), 31})
	// Exactly 3 × the median is not a spike (strictly more is).
	for i := -4; i < 0; i++ {
		counts = append(counts, HourCount{"C-EDGE", hour(i), 10})
	}
	counts = append(counts, HourCount{"C-EDGE", hour(0), 30})
	// A new department's first busy hour: the hours before count as 0.
	counts = append(counts, HourCount{"A-NEW", hour(1), 20})
	// Under MinCount, however quiet the baseline: never a spike.
	counts = append(counts, HourCount{"D-SMALL", hour(0), 19})
	// Before the window: not reported even though it would be a spike.
	counts = append(counts, HourCount{"E-EARLY", hour(-2), 500})

	got := rule.Spikes(counts, t0.Add(10*time.Minute), hour(2))
	want := []VolumeSpike{
		{Department: "A-NEW", Hour: hour(1), Count: 20, Median: 0},
		{Department: "B-STEADY", Hour: hour(0), Count: 31, Median: 10},
	}
	if len(got) != len(want) {
		t.Fatalf("spikes %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("spike %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

// A busy department that is always busy is never flagged: the rule is relative to its
// own history.
func TestSpikeRuleOwnHistory(t *testing.T) {
	rule := SpikeRule{Factor: 3, MinCount: 20, Baseline: 24}
	var counts []HourCount
	for i := -24; i < 3; i++ {
		counts = append(counts, HourCount{"BUSY", hour(i), 1000})
	}
	if got := rule.Spikes(counts, t0, hour(3)); len(got) != 0 {
		t.Fatalf("always-busy department flagged: %+v", got)
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []int64
		want float64
	}{
		{nil, 0},
		{[]int64{7}, 7},
		{[]int64{9, 1, 5}, 5},
		{[]int64{4, 1, 3, 2}, 2.5},
		{[]int64{0, 0, 0, 100}, 0},
	} {
		in := append([]int64(nil), tc.in...)
		if got := Median(tc.in); got != tc.want {
			t.Errorf("Median(%v) = %g, want %g", tc.in, got, tc.want)
		}
		for i := range in {
			if in[i] != tc.in[i] {
				t.Fatalf("Median reordered its input")
			}
		}
	}
}
