package calendar_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/exchange/calendar"
)

var cst = time.FixedZone("CST", 8*3600)

// at returns the instant "YYYY-MM-DD hh:mm[:ss]" in Asia/Shanghai.
func at(t testing.TB, s string) time.Time {
	t.Helper()
	for _, layout := range []string{"2006-01-02 15:04:05", "2006-01-02 15:04", time.DateOnly} {
		if tm, err := time.ParseInLocation(layout, s, cst); err == nil {
			return tm
		}
	}
	t.Fatalf("bad test time %q", s)
	return time.Time{}
}

func TestDefaultEmbeddedParses(t *testing.T) {
	c := calendar.Default()
	require.NotNil(t, c)
	require.Equal(t, []int{2024, 2025, 2026}, c.Years())
	require.Same(t, c, calendar.Default(), "Default parses once")

	local, err := os.ReadFile("cn-workday-calendar.json")
	require.NoError(t, err)
	_, err = calendar.Parse(local)
	require.NoError(t, err)
}

func TestEmbeddedMatchesSharedFile(t *testing.T) {
	shared, err := os.ReadFile(sharedCalendar)
	if errors.Is(err, os.ErrNotExist) {
		t.Log(sharedCalendar, "is absent: skipping the byte-for-byte comparison")
		return
	}
	require.NoError(t, err)
	local, err := os.ReadFile("cn-workday-calendar.json")
	require.NoError(t, err)
	require.Equal(t, string(shared), string(local),
		"exchange/calendar/cn-workday-calendar.json differs from %s: copy the shared file over it", sharedCalendar)
}

func TestLocation(t *testing.T) {
	_, off := time.Date(2026, 7, 1, 12, 0, 0, 0, calendar.Location()).Zone()
	require.Equal(t, 8*3600, off)
}

func TestCoversAndYears(t *testing.T) {
	c := calendar.Default()
	for _, tc := range []struct {
		year int
		want bool
	}{{2023, false}, {2024, true}, {2025, true}, {2026, true}, {2027, false}, {0, false}} {
		t.Run(fmt.Sprint(tc.year), func(t *testing.T) {
			require.Equal(t, tc.want, c.Covers(tc.year))
		})
	}
	ys := c.Years()
	ys[0] = 1999 // the returned slice is the caller's
	require.Equal(t, []int{2024, 2025, 2026}, c.Years())
}

func TestDay(t *testing.T) {
	c := calendar.Default()
	tests := []struct {
		name string
		at   string
		want calendar.Day
	}{
		{"2026 working Saturday before Spring Festival", "2026-02-14 12:00",
			calendar.Day{Date: "2026-02-14", Working: true, Weekend: true, Makeup: true}},
		{"2026 Spring Festival Monday", "2026-02-16 09:00",
			calendar.Day{Date: "2026-02-16", Holiday: true, HolidayName: "春节"}},
		{"2026 Spring Festival last day Monday", "2026-02-23 09:00",
			calendar.Day{Date: "2026-02-23", Holiday: true, HolidayName: "春节"}},
		{"2026 Spring Festival Sunday", "2026-02-15 09:00",
			calendar.Day{Date: "2026-02-15", Weekend: true, Holiday: true, HolidayName: "春节"}},
		{"2026 first working day after Spring Festival", "2026-02-24 09:00",
			calendar.Day{Date: "2026-02-24", Working: true}},
		{"2026 working Sunday after New Year", "2026-01-04 08:00",
			calendar.Day{Date: "2026-01-04", Working: true, Weekend: true, Makeup: true}},
		{"2026 New Year Friday", "2026-01-02 08:00",
			calendar.Day{Date: "2026-01-02", Holiday: true, HolidayName: "元旦"}},
		{"2026 ordinary Saturday", "2026-03-07 10:00",
			calendar.Day{Date: "2026-03-07", Weekend: true}},
		{"2026 ordinary Monday", "2026-03-09 10:00",
			calendar.Day{Date: "2026-03-09", Working: true}},
		{"2026 National Day Wednesday", "2026-10-07 10:00",
			calendar.Day{Date: "2026-10-07", Holiday: true, HolidayName: "国庆节"}},
		{"2026 working Saturday after National Day", "2026-10-10 10:00",
			calendar.Day{Date: "2026-10-10", Working: true, Weekend: true, Makeup: true}},
		{"2025 working Sunday before Spring Festival", "2025-01-26 10:00",
			calendar.Day{Date: "2025-01-26", Working: true, Weekend: true, Makeup: true}},
		{"2025 Spring Festival Tuesday", "2025-01-28 10:00",
			calendar.Day{Date: "2025-01-28", Holiday: true, HolidayName: "春节"}},
		{"2025 combined National Day and Mid-Autumn", "2025-10-08 10:00",
			calendar.Day{Date: "2025-10-08", Holiday: true, HolidayName: "国庆节、中秋节"}},
		{"2025 working Saturday after National Day", "2025-10-11 10:00",
			calendar.Day{Date: "2025-10-11", Working: true, Weekend: true, Makeup: true}},
		{"2024 New Year's Eve of the lunar year is a working Friday", "2024-02-09 10:00",
			calendar.Day{Date: "2024-02-09", Working: true}},
		{"2024 Spring Festival first day Saturday", "2024-02-10 10:00",
			calendar.Day{Date: "2024-02-10", Weekend: true, Holiday: true, HolidayName: "春节"}},
		{"2024 Spring Festival Wednesday", "2024-02-14 10:00",
			calendar.Day{Date: "2024-02-14", Holiday: true, HolidayName: "春节"}},
		{"2024 Spring Festival last day Saturday", "2024-02-17 10:00",
			calendar.Day{Date: "2024-02-17", Weekend: true, Holiday: true, HolidayName: "春节"}},
		{"2024 working Sunday before Spring Festival", "2024-02-04 10:00",
			calendar.Day{Date: "2024-02-04", Working: true, Weekend: true, Makeup: true}},
		{"2024 working Sunday after Spring Festival", "2024-02-18 10:00",
			calendar.Day{Date: "2024-02-18", Working: true, Weekend: true, Makeup: true}},
		{"2024 working Saturday after National Day", "2024-10-12 10:00",
			calendar.Day{Date: "2024-10-12", Working: true, Weekend: true, Makeup: true}},
		{"2024 National Day Monday", "2024-10-07 10:00",
			calendar.Day{Date: "2024-10-07", Holiday: true, HolidayName: "国庆节"}},
		{"2024 leap day", "2024-02-29 10:00",
			calendar.Day{Date: "2024-02-29", Working: true}},
		{"first second of a year", "2025-01-01 00:00:00",
			calendar.Day{Date: "2025-01-01", Holiday: true, HolidayName: "元旦"}},
		{"last second of a year", "2024-12-31 23:59:59",
			calendar.Day{Date: "2024-12-31", Working: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.Day(at(t, tc.at))
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
			w, err := c.IsWorkingDay(at(t, tc.at))
			require.NoError(t, err)
			require.Equal(t, tc.want.Working, w)
		})
	}
}

func TestDayConvertsToShanghai(t *testing.T) {
	c := calendar.Default()
	tests := []struct {
		name string
		t    time.Time
		want string
	}{
		{"UTC evening is the next day in Shanghai", time.Date(2026, 2, 13, 16, 30, 0, 0, time.UTC), "2026-02-14"},
		{"UTC 15:59:59 is still the same day", time.Date(2026, 2, 13, 15, 59, 59, 0, time.UTC), "2026-02-13"},
		{"New York evening", time.Date(2026, 2, 13, 11, 0, 0, 0, time.FixedZone("EST", -5*3600)), "2026-02-14"},
		{"nanosecond before midnight", time.Date(2026, 2, 14, 23, 59, 59, 999999999, cst), "2026-02-14"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := c.Day(tc.t)
			require.NoError(t, err)
			require.Equal(t, tc.want, d.Date)
		})
	}
}

func TestAddWorkingDays(t *testing.T) {
	c := calendar.Default()
	tests := []struct {
		name string
		from time.Time
		n    int
		want string
	}{
		{"ordinary Monday", at(t, "2026-03-09 10:00"), 1, "2026-03-11"},
		{"Friday to Monday", at(t, "2026-03-06 17:00"), 1, "2026-03-10"},
		{"five days over a weekend", at(t, "2026-03-06 17:00"), 5, "2026-03-14"},
		{"Friday before Spring Festival: make-up Saturday first", at(t, "2026-02-13 18:00"), 1, "2026-02-15"},
		{"across the 2026 Spring Festival", at(t, "2026-02-13 18:00"), 2, "2026-02-25"},
		{"across the 2026 Spring Festival to the make-up Saturday", at(t, "2026-02-13 18:00"), 6, "2026-03-01"},
		{"received on the make-up Saturday", at(t, "2026-02-14 09:00"), 1, "2026-02-25"},
		{"received during the holiday", at(t, "2026-02-18 09:00"), 1, "2026-02-25"},
		{"received during the holiday, ten days", at(t, "2026-02-18 09:00"), 10, "2026-03-07"},
		{"across 2026 National Day", at(t, "2026-09-30 10:00"), 1, "2026-10-09"},
		{"across 2026 National Day to the make-up Saturday", at(t, "2026-09-30 10:00"), 3, "2026-10-11"},
		{"across 2026 National Day past the make-up Saturday", at(t, "2026-09-30 10:00"), 4, "2026-10-13"},
		{"make-up Sunday before National Day counts", at(t, "2026-09-18 10:00"), 1, "2026-09-21"},
		{"last nanosecond of a day still counts as that day", time.Date(2026, 9, 30, 23, 59, 59, 999999999, cst), 1, "2026-10-09"},
		{"UTC input converted to Shanghai (already 10-01)", time.Date(2026, 9, 30, 16, 30, 0, 0, time.UTC), 1, "2026-10-09"},
		{"year boundary 2024 to 2025", at(t, "2024-12-31 10:00"), 1, "2025-01-03"},
		{"year boundary 2025 to 2026 lands on make-up Sunday", at(t, "2025-12-31 10:00"), 1, "2026-01-05"},
		{"deadline at 00:00 of an unannounced year needs no 2027 data", at(t, "2026-12-30 10:00"), 1, "2027-01-01"},
		{"from in an unannounced year, counted days announced", at(t, "2023-12-31 10:00"), 1, "2024-01-03"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.AddWorkingDays(tc.from, tc.n)
			require.NoError(t, err)
			require.Equal(t, at(t, tc.want), got)
			require.Equal(t, calendar.Location(), got.Location())
		})
	}
}

func TestAddWorkingDaysRejectsNonPositive(t *testing.T) {
	c := calendar.Default()
	for _, n := range []int{0, -1, -1000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			_, err := c.AddWorkingDays(at(t, "2026-03-09 10:00"), n)
			require.ErrorContains(t, err, "n >= 1")
			require.NotErrorIs(t, err, calendar.ErrYearNotAnnounced)
		})
	}
}

// TestAddWorkingDaysAgreesWithCounting checks AddWorkingDays against WorkingDaysBetween
// and IsWorkingDay on random inputs: the deadline's previous day is the n-th working day.
func TestAddWorkingDaysAgreesWithCounting(t *testing.T) {
	c := calendar.Default()
	r := rand.New(rand.NewPCG(1, 2))
	start, end := at(t, "2024-01-01"), at(t, "2026-10-01")
	for i := range 500 {
		from := start.Add(time.Duration(r.Int64N(int64(end.Sub(start)))))
		n := 1 + r.IntN(40)
		t.Run(fmt.Sprintf("%d/%s+%d", i, from.Format(time.RFC3339), n), func(t *testing.T) {
			deadline, err := c.AddWorkingDays(from, n)
			require.NoError(t, err)
			require.Equal(t, 0, deadline.Hour()+deadline.Minute()+deadline.Second()+deadline.Nanosecond())
			lastDay := deadline.Add(-time.Nanosecond)
			w, err := c.IsWorkingDay(lastDay)
			require.NoError(t, err)
			require.True(t, w, "the day before the deadline must be a working day")
			got, err := c.WorkingDaysBetween(from, lastDay)
			require.NoError(t, err)
			require.Equal(t, n, got)
		})
	}
}

func TestWorkingDaysBetween(t *testing.T) {
	c := calendar.Default()
	tests := []struct {
		name     string
		from, to string
		want     int
	}{
		{"same instant", "2026-03-09 10:00", "2026-03-09 10:00", 0},
		{"same date", "2026-03-09 08:00", "2026-03-09 18:00", 0},
		{"Thursday to Friday", "2026-03-05 18:00", "2026-03-06 08:00", 1},
		{"Friday to Monday", "2026-03-06 18:00", "2026-03-09 08:00", 1},
		{"Friday to Sunday", "2026-03-06 18:00", "2026-03-08 08:00", 0},
		{"one ordinary week", "2026-03-09 10:00", "2026-03-16 10:00", 5},
		{"across the 2026 Spring Festival", "2026-02-13 18:00", "2026-02-24 10:00", 2},
		{"2026 February from the 12th", "2026-02-12 10:00", "2026-02-28 10:00", 7},
		{"across 2026 National Day", "2026-09-30 10:00", "2026-10-12 10:00", 4},
		{"year boundary", "2024-12-31 10:00", "2025-01-03 10:00", 2},
		{"all of 2024", "2023-12-31 10:00", "2024-12-31 10:00", 251},
		{"all of 2025", "2024-12-31 10:00", "2025-12-31 10:00", 248},
		{"all of 2026", "2025-12-31 10:00", "2026-12-31 10:00", 248},
		{"2024 to 2026", "2023-12-31 10:00", "2026-12-31 10:00", 251 + 248 + 248},
		{"same date in an unannounced year needs no data", "2027-03-01 08:00", "2027-03-01 09:00", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.WorkingDaysBetween(at(t, tc.from), at(t, tc.to))
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestWorkingDaysBetweenRejectsNegativeRange(t *testing.T) {
	c := calendar.Default()
	for _, tc := range []struct{ name, from, to string }{
		{"previous day", "2026-03-10 10:00", "2026-03-09 10:00"},
		{"same date, earlier time", "2026-03-10 10:00", "2026-03-10 09:59"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.WorkingDaysBetween(at(t, tc.from), at(t, tc.to))
			require.ErrorContains(t, err, "is before from")
			_, err = c.WorkingTimeBetween(at(t, tc.from), at(t, tc.to))
			require.ErrorContains(t, err, "is before from")
		})
	}
}

func TestWorkingTimeBetween(t *testing.T) {
	c := calendar.Default()
	h := time.Hour
	tests := []struct {
		name     string
		from, to time.Time
		want     time.Duration
	}{
		{"empty interval", at(t, "2026-03-09 10:00"), at(t, "2026-03-09 10:00"), 0},
		{"within a working day", at(t, "2026-03-09 09:00"), at(t, "2026-03-09 17:30"), 8*h + 30*time.Minute},
		{"within a Saturday", at(t, "2026-03-07 09:00"), at(t, "2026-03-07 17:00"), 0},
		{"across a weekend", at(t, "2026-03-06 18:00"), at(t, "2026-03-09 10:00"), 16 * h},
		{"across a weekend, exactly one working day", at(t, "2026-03-06 18:00"), at(t, "2026-03-09 18:00"), 24 * h},
		{"across a weekend, one second more", at(t, "2026-03-06 18:00"), at(t, "2026-03-09 18:00:01"), 24*h + time.Second},
		{"across the 2026 Spring Festival incl. make-up Saturday", at(t, "2026-02-13 18:00"), at(t, "2026-02-24 10:00"), 40 * h},
		{"published on the make-up Saturday", at(t, "2026-02-14 18:00"), at(t, "2026-02-24 10:00"), 16 * h},
		{"holiday only", at(t, "2026-02-15 00:00"), at(t, "2026-02-24 00:00"), 0},
		{"year boundary over New Year's Day", at(t, "2024-12-31 12:00"), at(t, "2025-01-02 12:00"), 24 * h},
		{"to at 00:00 of an unannounced year", at(t, "2026-12-31 10:00"), at(t, "2027-01-01 00:00"), 14 * h},
		{"nanosecond precision", time.Date(2026, 3, 9, 10, 0, 0, 1, cst), time.Date(2026, 3, 9, 10, 0, 0, 3, cst), 2},
		{"UTC inputs", time.Date(2026, 3, 6, 10, 0, 0, 0, time.UTC), time.Date(2026, 3, 9, 2, 0, 0, 0, time.UTC), 16 * h},
		{"whole of 2024", at(t, "2024-01-01 00:00"), at(t, "2025-01-01 00:00"), 251 * 24 * h},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.WorkingTimeBetween(tc.from, tc.to)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

// TestWorkingTimeBetweenProperties checks additivity over a split point and agreement with
// WorkingDaysBetween on whole days, over random intervals in 2024–2026.
func TestWorkingTimeBetweenProperties(t *testing.T) {
	c := calendar.Default()
	r := rand.New(rand.NewPCG(3, 4))
	start, end := at(t, "2024-01-01"), at(t, "2027-01-01")
	span := int64(end.Sub(start))
	for i := range 300 {
		ts := []int64{r.Int64N(span), r.Int64N(span), r.Int64N(span)}
		if ts[0] > ts[1] {
			ts[0], ts[1] = ts[1], ts[0]
		}
		if ts[1] > ts[2] {
			ts[1], ts[2] = ts[2], ts[1]
		}
		if ts[0] > ts[1] {
			ts[0], ts[1] = ts[1], ts[0]
		}
		a, b, d := start.Add(time.Duration(ts[0])), start.Add(time.Duration(ts[1])), start.Add(time.Duration(ts[2]))
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			ab, err := c.WorkingTimeBetween(a, b)
			require.NoError(t, err)
			bd, err := c.WorkingTimeBetween(b, d)
			require.NoError(t, err)
			ad, err := c.WorkingTimeBetween(a, d)
			require.NoError(t, err)
			require.Equal(t, ad, ab+bd)
			require.LessOrEqual(t, ad, d.Sub(a))

			// Whole days: [00:00 of a's date, 00:00 of d's date) holds the working days
			// counted by WorkingDaysBetween over the previous dates.
			d0 := time.Date(a.In(cst).Year(), a.In(cst).Month(), a.In(cst).Day(), 0, 0, 0, 0, cst)
			d1 := time.Date(d.In(cst).Year(), d.In(cst).Month(), d.In(cst).Day(), 0, 0, 0, 0, cst)
			whole, err := c.WorkingTimeBetween(d0, d1)
			require.NoError(t, err)
			n, err := c.WorkingDaysBetween(d0.Add(-time.Nanosecond), d1.Add(-time.Nanosecond))
			require.NoError(t, err)
			require.Equal(t, time.Duration(n)*24*time.Hour, whole)
		})
	}
}

func requireNotAnnounced(t *testing.T, err error, year int) {
	t.Helper()
	require.ErrorIs(t, err, calendar.ErrYearNotAnnounced)
	var yerr *calendar.YearNotAnnouncedError
	require.ErrorAs(t, err, &yerr)
	require.Equal(t, year, yerr.Year)
	require.ErrorContains(t, err, fmt.Sprintf("no announcement for %d", year))
	require.ErrorContains(t, err, "--calendar")
}

func TestUnannouncedYears(t *testing.T) {
	c := calendar.Default()
	type call func(c *calendar.Calendar) error
	for _, year := range []int{2023, 2027} {
		mid := time.Date(year, 6, 15, 10, 0, 0, 0, cst)
		calls := map[string]call{
			"Day": func(c *calendar.Calendar) error { _, err := c.Day(mid); return err },
			"IsWorkingDay": func(c *calendar.Calendar) error {
				_, err := c.IsWorkingDay(mid)
				return err
			},
			"AddWorkingDays": func(c *calendar.Calendar) error {
				_, err := c.AddWorkingDays(mid, 1)
				return err
			},
			"WorkingDaysBetween": func(c *calendar.Calendar) error {
				_, err := c.WorkingDaysBetween(mid, mid.AddDate(0, 0, 3))
				return err
			},
			"WorkingTimeBetween": func(c *calendar.Calendar) error {
				_, err := c.WorkingTimeBetween(mid, mid.Add(time.Hour))
				return err
			},
		}
		for name, f := range calls {
			t.Run(fmt.Sprintf("%d/%s", year, name), func(t *testing.T) {
				requireNotAnnounced(t, f(c), year)
			})
		}
	}
	// Ranges that start in an announced year and run into an unannounced one.
	t.Run("AddWorkingDays runs into 2027", func(t *testing.T) {
		_, err := c.AddWorkingDays(at(t, "2026-12-30 10:00"), 2)
		requireNotAnnounced(t, err, 2027)
	})
	t.Run("AddWorkingDays with a huge n stops at the first unannounced year", func(t *testing.T) {
		_, err := c.AddWorkingDays(at(t, "2024-01-01 10:00"), 1_000_000)
		requireNotAnnounced(t, err, 2027)
	})
	t.Run("WorkingDaysBetween runs into 2027", func(t *testing.T) {
		_, err := c.WorkingDaysBetween(at(t, "2026-12-30 10:00"), at(t, "2027-01-01 10:00"))
		requireNotAnnounced(t, err, 2027)
	})
	t.Run("WorkingDaysBetween starts on the last day of 2023", func(t *testing.T) {
		_, err := c.WorkingDaysBetween(at(t, "2023-12-30 10:00"), at(t, "2024-01-03 10:00"))
		requireNotAnnounced(t, err, 2023)
	})
	t.Run("WorkingTimeBetween from 2023", func(t *testing.T) {
		_, err := c.WorkingTimeBetween(at(t, "2023-12-31 23:00"), at(t, "2024-01-02 10:00"))
		requireNotAnnounced(t, err, 2023)
	})
	t.Run("WorkingTimeBetween one second into 2027", func(t *testing.T) {
		_, err := c.WorkingTimeBetween(at(t, "2026-12-31 10:00"), at(t, "2027-01-01 00:00:01"))
		requireNotAnnounced(t, err, 2027)
	})
	t.Run("gap between announced years", func(t *testing.T) {
		gap, err := calendar.Parse([]byte(`{"years": {
			"2024": {"holidays": [{"name": "元旦", "from": "2024-01-01", "to": "2024-01-01"}]},
			"2026": {"holidays": [{"name": "元旦", "from": "2026-01-01", "to": "2026-01-03"}]}}}`))
		require.NoError(t, err)
		require.Equal(t, []int{2024, 2026}, gap.Years())
		_, err = gap.WorkingDaysBetween(at(t, "2024-12-01 10:00"), at(t, "2026-01-10 10:00"))
		requireNotAnnounced(t, err, 2025)
		_, err = gap.AddWorkingDays(at(t, "2024-12-30 10:00"), 2)
		requireNotAnnounced(t, err, 2025)
	})
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	t.Run("ok/shipped file", func(t *testing.T) {
		c, err := calendar.Load("cn-workday-calendar.json")
		require.NoError(t, err)
		require.Equal(t, []int{2024, 2025, 2026}, c.Years())
	})
	t.Run("ok/file with a new year", func(t *testing.T) {
		p := filepath.Join(dir, "cal.json")
		require.NoError(t, os.WriteFile(p, []byte(`{"years": {"2027": {"holidays": [
			{"name": "元旦", "from": "2027-01-01", "to": "2027-01-01"}], "makeup_workdays": []}}}`), 0o600))
		c, err := calendar.Load(p)
		require.NoError(t, err)
		require.True(t, c.Covers(2027))
		w, err := c.IsWorkingDay(at(t, "2027-01-04 10:00"))
		require.NoError(t, err)
		require.True(t, w)
	})
	t.Run("fail/missing file", func(t *testing.T) {
		p := filepath.Join(dir, "absent.json")
		_, err := calendar.Load(p)
		require.ErrorIs(t, err, os.ErrNotExist)
		require.ErrorContains(t, err, p)
	})
	t.Run("fail/invalid content names the file", func(t *testing.T) {
		p := filepath.Join(dir, "bad.json")
		require.NoError(t, os.WriteFile(p, []byte(`{"years": {}}`), 0o600))
		_, err := calendar.Load(p)
		require.ErrorContains(t, err, p)
		require.ErrorContains(t, err, `"years" is missing or empty`)
	})
	t.Run("fail/too large", func(t *testing.T) {
		p := filepath.Join(dir, "big.json")
		require.NoError(t, os.WriteFile(p, make([]byte, 1<<20+1), 0o600))
		_, err := calendar.Load(p)
		require.ErrorContains(t, err, "larger than")
	})
}

func ExampleCalendar_AddWorkingDays() {
	c := calendar.Default()
	received := time.Date(2026, 2, 13, 18, 0, 0, 0, calendar.Location()) // the Friday before the Spring Festival
	for _, n := range []int{1, 2, 5} {
		due, err := c.AddWorkingDays(received, n)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("within %d working days: before %s\n", n, due.Format("2006-01-02 15:04 MST"))
	}
	_, err := c.AddWorkingDays(time.Date(2027, 3, 1, 9, 0, 0, 0, calendar.Location()), 1)
	fmt.Println(err)
	// Output:
	// within 1 working days: before 2026-02-15 00:00 CST
	// within 2 working days: before 2026-02-25 00:00 CST
	// within 5 working days: before 2026-02-28 00:00 CST
	// working-day calendar has no announcement for 2027: the coordinator publishes the State Council notice (gxctl calendar publish), or load an updated calendar with --calendar
}

func ExampleCalendar_WorkingTimeBetween() {
	c := calendar.Default()
	published := time.Date(2026, 2, 13, 18, 0, 0, 0, calendar.Location())
	now := time.Date(2026, 2, 24, 10, 0, 0, 0, calendar.Location())
	stale, _ := c.WorkingTimeBetween(published, now)
	fmt.Println(stale, "of working time; within 1 working day:", stale <= 24*time.Hour)
	// Output: 40h0m0s of working time; within 1 working day: false
}

func BenchmarkWorkingTimeBetween30Days(b *testing.B) {
	c := calendar.Default()
	from := time.Date(2026, 2, 1, 9, 30, 0, 0, calendar.Location())
	to := from.AddDate(0, 0, 30)
	for b.Loop() {
		if _, err := c.WorkingTimeBetween(from, to); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAddWorkingDays10(b *testing.B) {
	c := calendar.Default()
	from := time.Date(2026, 2, 13, 9, 30, 0, 0, calendar.Location())
	for b.Loop() {
		if _, err := c.AddWorkingDays(from, 10); err != nil {
			b.Fatal(err)
		}
	}
}
