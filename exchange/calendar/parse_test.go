package calendar_test

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/exchange/calendar"
)

const sharedCalendar = "/work/shared/data/cn-workday-calendar.json"

// year wraps a year object into a minimal file.
func year(key, body string) string {
	return `{"about": "test", "source": "test", "years": {"` + key + `": ` + body + `}}`
}

func TestParseValid(t *testing.T) {
	tests := []struct {
		name string
		in   string
	}{
		{"ok/minimal", year("2026", `{"holidays": [{"name": "元旦", "from": "2026-01-01", "to": "2026-01-03"}]}`)},
		{"ok/with make-up days", year("2026", `{"holidays": [{"name": "春节", "from": "2026-02-15", "to": "2026-02-23"}],
			"makeup_workdays": ["2026-02-14", "2026-02-28"]}`)},
		{"ok/no about or source", `{"years": {"2030": {"holidays": [{"name": "元旦", "from": "2030-01-01", "to": "2030-01-01"}]}}}`},
		{"ok/first supported year", year("1996", `{"holidays": [{"name": "元旦", "from": "1996-01-01", "to": "1996-01-01"}]}`)},
		{"ok/31-day range", year("2026", `{"holidays": [{"name": "x", "from": "2026-07-01", "to": "2026-07-31"}]}`)},
		{"ok/leap day", year("2028", `{"holidays": [{"name": "x", "from": "2028-02-29", "to": "2028-02-29"}]}`)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := calendar.Parse([]byte(tc.in))
			require.NoError(t, err)
			require.Len(t, c.Years(), 1)
		})
	}
}

func TestParseErrors(t *testing.T) {
	h := func(from, to string) string {
		return `{"holidays": [{"name": "春节", "from": "` + from + `", "to": "` + to + `"}]}`
	}
	tests := []struct {
		name string
		in   string
		want []string // substrings the error must contain
	}{
		{"fail/empty input", ``, []string{"empty"}},
		{"fail/not JSON", `years: 2026`, []string{"invalid JSON at byte"}},
		{"fail/truncated JSON", `{"years": {"2026": {"holidays": [`, []string{"calendar:"}},
		{"fail/top level is an array", `[{"years": {}}]`, []string{"must be a JSON object"}},
		{"fail/trailing data", year("2026", h("2026-02-15", "2026-02-23")) + `{}`, []string{"after the JSON object"}},
		{"fail/unknown top-level key", `{"yaers": {}}`, []string{`unknown field "yaers"`}},
		{"fail/unknown year key", year("2026", `{"holidays": [{"name": "x", "from": "2026-01-01", "to": "2026-01-01"}],
			"makeup_workday": ["2026-01-04"]}`), []string{"years.2026", `unknown field "makeup_workday"`}},
		{"fail/unknown holiday key", year("2026", `{"holidays": [{"name": "x", "from": "2026-01-01", "until": "2026-01-01"}]}`),
			[]string{"years.2026", `unknown field "until"`}},
		{"fail/duplicate year", `{"years": {"2026": ` + h("2026-02-15", "2026-02-23") + `, "2026": ` + h("2026-02-16", "2026-02-23") + `}}`,
			[]string{"years.2026", "appears twice"}},
		{"fail/duplicate key inside a holiday", year("2026", `{"holidays": [{"name": "x", "from": "2026-01-01", "from": "2026-01-02", "to": "2026-01-03"}]}`),
			[]string{"years.2026.holidays[0].from", "appears twice"}},
		{"fail/years missing", `{"about": "x"}`, []string{`"years" is missing or empty`}},
		{"fail/years empty", `{"years": {}}`, []string{`"years" is missing or empty`}},
		{"fail/years null", `{"years": null}`, []string{`"years" is missing or empty`}},
		{"fail/years wrong type", `{"years": 2026}`, []string{"years", "number"}},
		{"fail/date wrong type", year("2026", `{"holidays": [{"name": "x", "from": 20260101, "to": "2026-01-01"}]}`),
			[]string{"years.2026", "from", "number"}},
		{"fail/two-digit year key", year("26", h("2026-02-15", "2026-02-23")), []string{`years."26"`, "4-digit year"}},
		{"fail/year key with text", year("2026a", h("2026-02-15", "2026-02-23")), []string{`years."2026a"`, "4-digit year"}},
		{"fail/year before the two-day weekend", year("1990", h("1990-01-27", "1990-01-29")), []string{"years.1990", "before 1996"}},
		{"fail/no holidays", year("2026", `{"makeup_workdays": []}`), []string{"years.2026", `"holidays" is missing or empty`}},
		{"fail/holidays empty", year("2026", `{"holidays": []}`), []string{"years.2026", `"holidays" is missing or empty`}},
		{"fail/holiday without name", year("2026", `{"holidays": [{"name": " ", "from": "2026-01-01", "to": "2026-01-01"}]}`),
			[]string{"years.2026", "holidays[0]", `"name" is missing`}},
		{"fail/bad from: single-digit month", year("2026", h("2026-2-15", "2026-02-23")),
			[]string{"years.2026", `holidays[0] "春节": from`, `"2026-2-15" is not a valid date`, "YYYY-MM-DD"}},
		{"fail/bad to: no such day", year("2026", h("2026-02-15", "2026-02-30")),
			[]string{`holidays[0] "春节": to`, `"2026-02-30" is not a valid date`}},
		{"fail/bad date: slashes", year("2026", h("2026/02/15", "2026-02-23")), []string{`"2026/02/15" is not a valid date`}},
		{"fail/bad date: time appended", year("2026", h("2026-02-15T00:00:00", "2026-02-23")), []string{`"2026-02-15T00:00:00" is not a valid date`}},
		{"fail/bad date: empty", year("2026", h("", "2026-02-23")), []string{`"" is not a valid date`}},
		{"fail/from after to", year("2026", h("2026-02-23", "2026-02-15")),
			[]string{"years.2026", `holidays[0] "春节"`, "from 2026-02-23 is after to 2026-02-15"}},
		{"fail/range too long (typo)", year("2026", h("2026-02-15", "2026-12-23")), []string{"2026-02-15 to 2026-12-23", "typo"}},
		{"fail/holiday outside its year", year("2026", h("2025-12-31", "2026-01-02")),
			[]string{"years.2026", "2025-12-31 is outside 2026", "split"}},
		{"fail/holiday end outside its year", year("2026", h("2026-12-31", "2027-01-01")), []string{"2027-01-01 is outside 2026"}},
		{"fail/make-up day outside its year", year("2026", `{"holidays": [{"name": "元旦", "from": "2026-01-01", "to": "2026-01-03"}],
			"makeup_workdays": ["2025-12-28"]}`), []string{"years.2026", "makeup_workdays[0]", "2025-12-28 is outside 2026"}},
		{"fail/bad make-up date", year("2026", `{"holidays": [{"name": "元旦", "from": "2026-01-01", "to": "2026-01-03"}],
			"makeup_workdays": ["2026-01-04", "4 Jan"]}`), []string{"makeup_workdays[1]", `"4 Jan" is not a valid date`}},
		{"fail/overlapping holidays", year("2026", `{"holidays": [{"name": "中秋节", "from": "2026-09-25", "to": "2026-10-01"},
			{"name": "国庆节", "from": "2026-10-01", "to": "2026-10-07"}]}`),
			[]string{`holidays[1] "国庆节"`, `2026-10-01 is already in holiday "中秋节"`}},
		{"fail/date both holiday and make-up day", year("2026", `{"holidays": [{"name": "春节", "from": "2026-02-15", "to": "2026-02-23"}],
			"makeup_workdays": ["2026-02-14", "2026-02-21"]}`),
			[]string{"makeup_workdays[1]", "2026-02-21 is both a make-up working day and part of holiday \"春节\""}},
		{"fail/make-up day listed twice", year("2026", `{"holidays": [{"name": "春节", "from": "2026-02-15", "to": "2026-02-23"}],
			"makeup_workdays": ["2026-02-14", "2026-02-14"]}`), []string{"makeup_workdays[1]", "2026-02-14 is listed twice"}},
		{"fail/make-up day on a weekday", year("2026", `{"holidays": [{"name": "春节", "from": "2026-02-15", "to": "2026-02-23"}],
			"makeup_workdays": ["2026-02-24"]}`), []string{"makeup_workdays[0]", "2026-02-24 is a Tuesday", "Saturday or Sunday"}},
		{"fail/nested too deeply", `{"about": ` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`, []string{"nested more than"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := calendar.Parse([]byte(tc.in))
			require.Error(t, err)
			require.Nil(t, c)
			require.ErrorContains(t, err, "calendar:")
			for _, w := range tc.want {
				require.ErrorContains(t, err, w)
			}
			require.NotErrorIs(t, err, calendar.ErrYearNotAnnounced)
		})
	}
}

// TestCrossCheckAgainstFile derives, for every day of 2024–2026, the working flag
// independently of the package: straight from the JSON file with the weekday rule and a
// string comparison of the listed ranges. It reads the shared data file when present and
// the copy shipped in this package otherwise.
func TestCrossCheckAgainstFile(t *testing.T) {
	path := sharedCalendar
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		t.Log(sharedCalendar, "is absent: cross-checking the shipped copy instead")
		path = "cn-workday-calendar.json"
	}
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	var file struct {
		Years map[string]struct {
			Holidays []struct{ Name, From, To string } `json:"holidays"`
			Makeup   []string                          `json:"makeup_workdays"`
		} `json:"years"`
	}
	require.NoError(t, json.Unmarshal(raw, &file))

	loaded, err := calendar.Load(path)
	require.NoError(t, err)
	for name, c := range map[string]*calendar.Calendar{"default": calendar.Default(), "loaded": loaded} {
		t.Run(name, func(t *testing.T) {
			counts := map[int]int{}
			for y := 2024; y <= 2026; y++ {
				yj, ok := file.Years[time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC).Format("2006")]
				require.True(t, ok, "the file must announce %d", y)
				for d := time.Date(y, 1, 1, 12, 0, 0, 0, cst); d.Year() == y; d = d.AddDate(0, 0, 1) {
					s := d.Format(time.DateOnly)
					holiday, name := false, ""
					for _, h := range yj.Holidays {
						if h.From <= s && s <= h.To {
							holiday, name = true, h.Name
						}
					}
					makeup := false
					for _, m := range yj.Makeup {
						makeup = makeup || m == s
					}
					weekend := d.Weekday() == time.Saturday || d.Weekday() == time.Sunday
					want := calendar.Day{Date: s, Working: makeup || (!weekend && !holiday), Weekend: weekend,
						Holiday: holiday, Makeup: makeup, HolidayName: name}
					got, err := c.Day(d)
					require.NoError(t, err)
					require.Equal(t, want, got, s)
					if want.Working {
						counts[y]++
					}
				}
			}
			// Totals counted by hand from the three notices (366-104-19+8, 365-104-18+5, 365-104-19+6).
			require.Equal(t, map[int]int{2024: 251, 2025: 248, 2026: 248}, counts)
		})
	}
}
