package calendar_test

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/gxhub/gxhub/exchange/calendar"
)

// FuzzParse checks that Parse never panics, and that whatever it accepts can be queried
// without panicking: every method either answers or reports an unannounced year.
func FuzzParse(f *testing.F) {
	if b, err := os.ReadFile("cn-workday-calendar.json"); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"years": {"2026": {"holidays": [{"name": "春节", "from": "2026-02-15", "to": "2026-02-23"}], "makeup_workdays": ["2026-02-14"]}}}`))
	f.Add([]byte(`{"years": {"1996": {"holidays": [{"name": "x", "from": "1996-12-31", "to": "1996-12-31"}]}, "9999": {"holidays": [{"name": "y", "from": "9999-12-01", "to": "9999-12-31"}]}}}`))
	f.Add([]byte(`{"years": {"2026": {"holidays": [{"name": "x", "from": "2026-02-30", "to": "2026-02-01"}]}}}`))
	f.Add([]byte(`{"years": {}}`))
	f.Add([]byte(`[[[[`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := calendar.Parse(b)
		if err != nil {
			if c != nil {
				t.Fatal("Parse returned a calendar and an error")
			}
			return
		}
		years := c.Years()
		if len(years) == 0 {
			t.Fatal("Parse accepted a calendar without years")
		}
		ok := func(err error) {
			if err != nil && !errors.Is(err, calendar.ErrYearNotAnnounced) {
				t.Fatalf("unexpected error: %v", err)
			}
		}
		for _, y := range years {
			if !c.Covers(y) {
				t.Fatalf("Years lists %d but Covers(%d) is false", y, y)
			}
			jan1 := time.Date(y, 1, 1, 9, 0, 0, 0, calendar.Location())
			dec31 := time.Date(y, 12, 31, 9, 0, 0, 0, calendar.Location())
			if _, err := c.Day(jan1); err != nil {
				t.Fatalf("Day(%d-01-01): %v", y, err)
			}
			_, err := c.AddWorkingDays(jan1, 3)
			ok(err)
			_, err = c.WorkingDaysBetween(jan1, dec31)
			ok(err)
			_, err = c.WorkingTimeBetween(jan1, dec31)
			ok(err)
		}
	})
}
