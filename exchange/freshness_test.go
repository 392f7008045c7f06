package exchange_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/calendar"
)

func at(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, calendar.Location())
	if err != nil {
		panic(err)
	}
	return t
}

func TestComputeFreshness(t *testing.T) {
	cal := calendar.Default()
	daily := &exchange.Resource{Code: "R", FreshnessLimit: 1}
	weekly := &exchange.Resource{Code: "W", FreshnessLimit: 5}
	tests := map[string]struct {
		r          *exchange.Resource
		last, now  string
		age        time.Duration
		stale      bool
		statusPart string
	}{
		"ok/same day":                               {daily, "2026-03-02 09:00", "2026-03-02 17:00", 8 * time.Hour, false, ""},
		"ok/Friday evening to Monday morning":       {daily, "2026-03-06 18:00", "2026-03-09 09:00", 15 * time.Hour, false, ""},
		"stale/Friday evening to Monday night":      {daily, "2026-03-06 18:00", "2026-03-09 20:00", 26 * time.Hour, true, ""},
		"ok/exactly one working day is the limit":   {daily, "2026-03-03 10:00", "2026-03-04 10:00", 24 * time.Hour, false, ""},
		"ok/Spring Festival holiday does not count": {daily, "2026-02-14 18:00", "2026-02-23 23:00", 6 * time.Hour, false, ""},
		"stale/first working day after the holiday": {daily, "2026-02-14 18:00", "2026-02-24 20:00", 26 * time.Hour, true, ""},
		"ok/weekly limit of 5 working days":         {weekly, "2026-03-02 00:00", "2026-03-09 00:00", 5 * 24 * time.Hour, false, ""},
		"stale/never published":                     {daily, "", "2026-03-02 09:00", 0, true, exchange.FreshnessNeverPublished},
		"ok/not shared is never stale":              {&exchange.Resource{Code: "N", ShareType: exchange.ShareNotShared, FreshnessLimit: 1}, "", "2026-03-02 09:00", 0, false, exchange.FreshnessNotShared},
		"stale/year not announced is reported":      {daily, "2026-12-31 09:00", "2027-01-04 09:00", 0, true, "cannot be measured"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var last time.Time
			if tc.last != "" {
				last = at(tc.last)
			}
			f := exchange.ComputeFreshness(cal, tc.r, last, at(tc.now))
			require.Equal(t, tc.stale, f.Stale)
			require.Equal(t, tc.age, f.WorkingAge)
			require.Equal(t, tc.r.FreshnessLimit, f.Limit)
			if tc.statusPart == "" {
				require.Empty(t, f.CalendarStatus)
			} else {
				require.Contains(t, f.CalendarStatus, tc.statusPart)
			}
			if f.Stale {
				err := exchange.StaleError(f)
				require.True(t, exchange.IsStale(err))
				require.ErrorIs(t, err, exchange.ErrFailedPrecondition)
				require.Contains(t, err.Error(), "fresh_only")
			}
		})
	}
}
