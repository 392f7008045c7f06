// Package anomaly holds the auditor's anomaly rules over the audit log that need no store:
// each rule a small named function over what the log's index counted. The audit service
// (ledger/server) reads the index, calls the rules and reports what they flag.
package anomaly

import (
	"slices"
	"time"
)

// HourCount is how many records one department made in one UTC hour.
type HourCount struct {
	Department string
	Hour       time.Time
	Count      int64
}

// VolumeSpike is one department's hour that the spike rule flags.
type VolumeSpike struct {
	Department string
	Hour       time.Time
	Count      int64
	// Median is the median of the department's hourly counts over the baseline hours before.
	Median float64
}

// SpikeRule flags an hour in which a department made at least MinCount records and more
// than Factor × the median of its hourly counts over the Baseline hours before (hours
// without records count as 0). A spike is relative to the department's own history only.
type SpikeRule struct {
	Factor   float64
	MinCount int64
	Baseline int
}

// Spikes returns the flagged hours in [from, to) (from truncated to its UTC hour), by
// department in code order, then by hour. counts must cover the Baseline hours before
// from's hour as well.
func (r SpikeRule) Spikes(counts []HourCount, from, to time.Time) []VolumeSpike {
	perDept := map[string]map[int64]int64{}
	var depts []string
	for _, c := range counts {
		if perDept[c.Department] == nil {
			perDept[c.Department] = map[int64]int64{}
			depts = append(depts, c.Department)
		}
		perDept[c.Department][c.Hour.Unix()/3600] = c.Count
	}
	slices.Sort(depts)
	var out []VolumeSpike
	hourFrom := from.UTC().Truncate(time.Hour)
	for _, d := range depts {
		hours := perDept[d]
		for h := hourFrom; h.Before(to); h = h.Add(time.Hour) {
			hn := h.Unix() / 3600
			c := hours[hn]
			if c < r.MinCount {
				continue
			}
			prev := make([]int64, r.Baseline)
			for i := range prev {
				prev[i] = hours[hn-int64(r.Baseline)+int64(i)]
			}
			if med := Median(prev); float64(c) > r.Factor*med {
				out = append(out, VolumeSpike{Department: d, Hour: h, Count: c, Median: med})
			}
		}
	}
	return out
}

// Median is the median of v (0 for none; the mean of the two middle values for an even count).
func Median(v []int64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return float64(s[n/2])
	}
	return float64(s[n/2-1]+s[n/2]) / 2
}
