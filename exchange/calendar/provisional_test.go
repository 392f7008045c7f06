package calendar_test

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/exchange/calendar"
)

// madeUp2027 is a MADE-UP 2027 calendar (testdata/2027-made-up.json says so in its "about"):
// the real notice for 2027 was not published when it was written. It keeps 2027's
// statutory holidays and makes 元旦 run to Monday 2027-01-04.
func madeUp2027(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/2027-made-up.json")
	require.NoError(t, err)
	return b
}

// The statutory holidays (法定节假日, not the days moved around them) of the three
// announced years, read from the State Council notices: 2024 under the 2013 rule (春节
// from 初一, 3 days; 劳动节 1 day), 2025 and 2026 under the 2024 rule (春节 from 除夕, 4
// days; 劳动节 2 days).
var noticeStatutory = map[int][]calendar.StatutoryDay{
	2024: {
		{"2024-01-01", "元旦"}, {"2024-02-10", "春节"}, {"2024-02-11", "春节"}, {"2024-02-12", "春节"},
		{"2024-04-04", "清明节"}, {"2024-05-01", "劳动节"}, {"2024-06-10", "端午节"}, {"2024-09-17", "中秋节"},
		{"2024-10-01", "国庆节"}, {"2024-10-02", "国庆节"}, {"2024-10-03", "国庆节"},
	},
	2025: {
		{"2025-01-01", "元旦"}, {"2025-01-28", "春节"}, {"2025-01-29", "春节"}, {"2025-01-30", "春节"}, {"2025-01-31", "春节"},
		{"2025-04-04", "清明节"}, {"2025-05-01", "劳动节"}, {"2025-05-02", "劳动节"}, {"2025-05-31", "端午节"},
		{"2025-10-01", "国庆节"}, {"2025-10-02", "国庆节"}, {"2025-10-03", "国庆节"}, {"2025-10-06", "中秋节"},
	},
	2026: {
		{"2026-01-01", "元旦"}, {"2026-02-16", "春节"}, {"2026-02-17", "春节"}, {"2026-02-18", "春节"}, {"2026-02-19", "春节"},
		{"2026-04-05", "清明节"}, {"2026-05-01", "劳动节"}, {"2026-05-02", "劳动节"}, {"2026-06-19", "端午节"},
		{"2026-09-25", "中秋节"}, {"2026-10-01", "国庆节"}, {"2026-10-02", "国庆节"}, {"2026-10-03", "国庆节"},
	},
}

// TestProvisionalReproducesNotices: for each announced year, under the rule in force that
// year, the provisional calculation gives exactly the statutory holidays of the notice,
// and every one of them is a holiday in the official (embedded) calendar.
func TestProvisionalReproducesNotices(t *testing.T) {
	official := calendar.Default()
	for y, want := range noticeStatutory {
		got, err := calendar.Statutory(y)
		require.NoError(t, err)
		require.Equal(t, want, got, "%d", y)
		for _, d := range got {
			day, err := official.Day(at(t, d.Date+" 12:00"))
			require.NoError(t, err)
			require.True(t, day.Holiday, "%s (%s) is a statutory holiday but not a holiday in the %d notice", d.Date, d.Name, y)
			require.False(t, day.Working)
		}
	}
	require.NoError(t, official.CheckStatutory(), "the embedded notices hold every statutory holiday")
}

func TestProvisionalYear(t *testing.T) {
	strict := calendar.Default()
	c := strict.WithProvisional()
	require.False(t, strict.Provisional())
	require.True(t, c.Provisional())

	t.Run("ok/days of 2027", func(t *testing.T) {
		for _, tc := range []struct {
			date    string
			working bool
			holiday string
		}{
			{"2027-01-01", false, "元旦"}, {"2027-01-04", true, ""}, {"2027-02-05", false, "春节"}, {"2027-02-08", false, "春节"},
			{"2027-02-09", true, ""}, {"2027-04-05", false, "清明节"}, {"2027-05-03", true, ""}, {"2027-10-04", true, ""},
			{"2027-09-15", false, "中秋节"}, {"2027-06-09", false, "端午节"}, {"2027-01-09", false, ""},
		} {
			d, err := c.Day(at(t, tc.date+" 09:00"))
			require.NoError(t, err, tc.date)
			require.True(t, d.Provisional, tc.date)
			require.Equal(t, tc.working, d.Working, tc.date)
			require.Equal(t, tc.holiday, d.HolidayName, tc.date)
			require.False(t, d.Makeup, "a provisional year has no make-up days")
		}
		d, err := c.Day(at(t, "2026-12-31 09:00"))
		require.NoError(t, err)
		require.False(t, d.Provisional, "announced years stay announced")
	})
	t.Run("ok/deadline across New Year is provisional", func(t *testing.T) {
		end, prov, err := c.Deadline(at(t, "2026-12-28 10:00"), 5)
		require.NoError(t, err)
		require.True(t, prov)
		require.Equal(t, at(t, "2027-01-06 00:00"), end) // 12-29, 12-30, 12-31, (元旦, weekend) 01-04, 01-05
		end, prov, err = c.Deadline(at(t, "2026-12-21 10:00"), 5)
		require.NoError(t, err)
		require.False(t, prov, "a deadline inside 2026 is not provisional")
		require.Equal(t, at(t, "2026-12-29 00:00"), end)
	})
	t.Run("ok/working time across New Year is provisional", func(t *testing.T) {
		w, prov, err := c.WorkingTime(at(t, "2026-12-28 00:00"), at(t, "2027-01-10 00:00"))
		require.NoError(t, err)
		require.True(t, prov)
		require.Equal(t, 9*24*time.Hour, w) // 12-28..12-31 and 01-04..01-08
		n, prov, err := c.CountWorkingDays(at(t, "2026-12-28 00:00"), at(t, "2027-01-10 00:00"))
		require.NoError(t, err)
		require.True(t, prov)
		require.Equal(t, 8, n)
	})
	t.Run("fail/strict methods still refuse provisional years", func(t *testing.T) {
		_, err := c.AddWorkingDays(at(t, "2026-12-28 10:00"), 5)
		require.ErrorIs(t, err, calendar.ErrYearNotAnnounced)
		_, err = c.WorkingTimeBetween(at(t, "2026-12-28 00:00"), at(t, "2027-01-10 00:00"))
		require.ErrorIs(t, err, calendar.ErrYearNotAnnounced)
		_, err = c.IsWorkingDay(at(t, "2027-01-04 10:00"))
		require.ErrorIs(t, err, calendar.ErrYearNotAnnounced)
		_, err = strict.Day(at(t, "2027-01-04 10:00"))
		require.ErrorIs(t, err, calendar.ErrYearNotAnnounced, "a calendar without WithProvisional never answers provisionally")
	})
	t.Run("fail/no rule beyond the lunar table", func(t *testing.T) {
		_, err := c.Day(at(t, "2101-03-01 10:00"))
		var ny *calendar.YearNotAnnouncedError
		require.True(t, errors.As(err, &ny))
		require.Equal(t, 2101, ny.Year)
		require.True(t, ny.Provisional)
		require.ErrorContains(t, err, "no provisional calendar for it")
		_, err = calendar.Statutory(2013)
		require.Error(t, err, "no rule before 2014")
	})
	t.Run("ok/provisional 2024 uses the old rule", func(t *testing.T) {
		// Drop the announced 2024 by overlaying only 2025–2026 on an empty calendar.
		empty, err := calendar.Parse([]byte(`{"source":"x","years":{"2030":{"holidays":[{"name":"元旦","from":"2030-01-01","to":"2030-01-01"}]}}}`))
		require.NoError(t, err)
		p := empty.WithProvisional()
		for date, hol := range map[string]bool{"2024-02-09": false, "2024-02-10": true, "2024-02-12": true, "2024-02-13": false, "2024-05-01": true, "2024-05-02": false} {
			d, err := p.Day(at(t, date+" 10:00"))
			require.NoError(t, err)
			require.True(t, d.Provisional)
			require.Equal(t, hol, d.Holiday, date)
		}
		for date, hol := range map[string]bool{"2025-01-28": true, "2025-01-31": true, "2025-02-01": false, "2025-05-02": true} {
			d, err := p.Day(at(t, date+" 10:00"))
			require.NoError(t, err)
			require.Equal(t, hol, d.Holiday, date)
		}
	})
	t.Run("ok/mid-autumn on National Day is one day of both", func(t *testing.T) {
		ds, err := calendar.Statutory(2028) // 中秋 2028-10-03
		require.NoError(t, err)
		require.Contains(t, ds, calendar.StatutoryDay{Date: "2028-10-03", Name: "国庆节、中秋节"})
		require.Len(t, ds, 12)
	})
}

func TestPreparePublication(t *testing.T) {
	current := calendar.Default().WithProvisional()
	file := madeUp2027(t)

	c, years, err := calendar.PreparePublication(current, file, false, "")
	require.NoError(t, err, "the made-up 2027 file publishes over the provisional 2027")
	require.Equal(t, []int{2027}, years)
	require.Equal(t, []int{2027}, c.Years())

	official, err := os.ReadFile("cn-workday-calendar.json")
	require.NoError(t, err)
	for name, tc := range map[string]struct {
		file    string
		replace bool
		reason  string
		want    string
		says    string
	}{
		"fail/not JSON":               {"{", false, "", calendar.ReasonFileInvalid, "invalid JSON: the file ends"},
		"fail/date outside its year":  {`{"source":"s","years":{"2027":{"holidays":[{"name":"元旦","from":"2026-12-31","to":"2027-01-01"}]}}}`, false, "", calendar.ReasonFileInvalid, "2026-12-31 is outside 2027"},
		"fail/range reversed":         {`{"source":"s","years":{"2027":{"holidays":[{"name":"元旦","from":"2027-01-03","to":"2027-01-01"}]}}}`, false, "", calendar.ReasonFileInvalid, "from 2027-01-03 is after to 2027-01-01"},
		"fail/make-up inside holiday": {`{"source":"s","years":{"2027":{"holidays":[{"name":"元旦","from":"2027-01-01","to":"2027-01-03"}],"makeup_workdays":["2027-01-02"]}}}`, false, "", calendar.ReasonFileInvalid, "2027-01-02 is both a make-up working day and part of holiday"},
		"fail/no source":              {`{"years":{"2027":{"holidays":[{"name":"元旦","from":"2027-01-01","to":"2027-01-01"}]}}}`, false, "", calendar.ReasonSourceMissing, "State Council notice"},
		"fail/statutory day missing":  {`{"source":"s","years":{"2027":{"holidays":[{"name":"元旦","from":"2027-01-01","to":"2027-01-01"}]}}}`, false, "", calendar.ReasonStatutoryMissing, "2027-02-05 (春节)"},
		"fail/announced without flag": {string(official), false, "", calendar.ReasonYearAnnounced, "2024 is already announced (embedded in the hub"},
		"fail/replace without reason": {string(official), true, " ", calendar.ReasonReplaceReasonNeeded, "needs a reason"},
		"fail/unknown key":            {`{"source":"s","years":{"2027":{"holiday":[]}}}`, false, "", calendar.ReasonFileInvalid, "unknown field"},
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := calendar.PreparePublication(current, []byte(tc.file), tc.replace, tc.reason)
			var pe *calendar.PublishError
			require.True(t, errors.As(err, &pe), "%v", err)
			require.Equal(t, tc.want, pe.Reason, err.Error())
			require.Contains(t, err.Error(), tc.says)
		})
	}
	_, _, err = calendar.PreparePublication(current, official, true, "重新核对通知")
	require.NoError(t, err, "an announced year is replaced with replace and a reason")
}

func TestApplyPublications(t *testing.T) {
	base := calendar.Default().WithProvisional()
	at1 := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	pubs := []calendar.Publication{
		{Version: 1, File: []byte(`{"source":"broken","years":{"2027":{"holidays":[]}}}`), By: "X", At: at1},
		{Version: 2, File: madeUp2027(t), By: "11500000000000019A", At: at1},
	}
	c, bad := calendar.Apply(base, pubs)
	require.Len(t, bad, 1)
	require.ErrorContains(t, bad[0], "version 1")
	require.Equal(t, []int{2024, 2025, 2026, 2027}, c.Years())
	src, ok := c.YearSource(2027)
	require.True(t, ok)
	require.Equal(t, calendar.Source{Kind: calendar.SourcePublished, Text: "made-up test data (not an official notice)", Version: 2, By: "11500000000000019A", At: at1}, src)
	src, _ = c.YearSource(2026)
	require.Equal(t, calendar.SourceEmbedded, src.Kind)
	src, ok = c.YearSource(2028)
	require.True(t, ok)
	require.Equal(t, calendar.SourceProvisional, src.Kind)
	_, ok = base.YearSource(2101)
	require.False(t, ok)

	d, err := c.Day(at(t, "2027-01-04 10:00"))
	require.NoError(t, err)
	require.False(t, d.Provisional)
	require.Equal(t, "元旦", d.HolidayName)
	end, prov, err := c.Deadline(at(t, "2026-12-28 10:00"), 5)
	require.NoError(t, err)
	require.False(t, prov)
	require.Equal(t, at(t, "2027-01-07 00:00"), end, "the made-up 元旦 runs to 01-04")
}

func TestCoverage(t *testing.T) {
	c := calendar.Default().WithProvisional()
	cv := c.CoverageAt(at(t, "2026-10-01 10:00"))
	require.Equal(t, calendar.Coverage{Today: "2026-10-01", Through: "2026-12-31", DaysLeft: 92, NextYear: 2027}, cv)

	cv = c.CoverageAt(at(t, "2026-12-03 10:00"))
	require.Equal(t, 29, cv.DaysLeft)
	require.Contains(t, cv.Warning, "announced through 2026-12-31 (29 days left)")
	require.Contains(t, cv.Warning, "gxctl calendar publish")

	require.Equal(t, 60, c.CoverageAt(at(t, "2026-11-02 10:00")).DaysLeft)
	require.NotEmpty(t, c.CoverageAt(at(t, "2026-11-02 10:00")).Warning, "warned from 60 days before")
	require.Empty(t, c.CoverageAt(at(t, "2026-11-01 10:00")).Warning)

	cv = c.CoverageAt(at(t, "2027-01-05 10:00"))
	require.Equal(t, 0, cv.DaysLeft)
	require.Empty(t, cv.Through)
	require.Contains(t, cv.Warning, "no announcement for 2027")

	pub, bad := calendar.Apply(c, []calendar.Publication{{Version: 1, File: madeUp2027(t), By: "C"}})
	require.Empty(t, bad)
	cv = pub.CoverageAt(at(t, "2026-12-03 10:00"))
	require.Equal(t, "2027-12-31", cv.Through)
	require.Empty(t, cv.Warning)
}

func BenchmarkDeadlineAcrossNewYearProvisional(b *testing.B) {
	c := calendar.Default().WithProvisional()
	from := at(b, "2026-12-28 10:00")
	for b.Loop() {
		if _, prov, err := c.Deadline(from, 10); err != nil || !prov {
			b.Fatal(err, prov)
		}
	}
}

func BenchmarkWorkingTimeProvisional30Days(b *testing.B) {
	c := calendar.Default().WithProvisional()
	from, to := at(b, "2026-12-20 10:00"), at(b, "2027-01-19 10:00")
	for b.Loop() {
		if _, prov, err := c.WorkingTime(from, to); err != nil || !prov {
			b.Fatal(err, prov)
		}
	}
}
