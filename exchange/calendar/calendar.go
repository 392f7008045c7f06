// Package calendar is the official working-day calendar of the People's Republic of China:
// weekends, public holidays (放假) and make-up working days (调休上班) as announced each year
// by the General Office of the State Council (国务院办公厅关于YYYY年部分节假日安排的通知).
// gxhub uses it for deadlines in working days and for data staleness (REQUIREMENTS B/C:
// "no more than 1 working day stale").
//
// # Days and time zone
//
// A day is a calendar date in Asia/Shanghai. The package uses the fixed zone UTC+08:00
// (time.FixedZone("CST", 8*3600)) rather than the tz database: China has observed no
// daylight saving time since 1991, so the fixed zone is exact for every year the calendar
// can hold (1996 on; the two-day weekend began on 1995-05-01), and it does not depend on
// the tzdata installed on the host. Times in any location are accepted and converted.
//
// A date is a working day when it is a make-up working day, or when it is a Monday to
// Friday that is not a public holiday. Saturdays, Sundays and public holidays are rest days.
//
// # Unannounced years
//
// A calendar never guesses silently. Made by Parse, Load or Default it answers only for
// announced years: every method returns a *YearNotAnnouncedError (which wraps
// ErrYearNotAnnounced) when its answer depends on a date in a year it does not announce.
// A year is needed only when a date in it must be examined: for example
// WorkingDaysBetween(2026-12-31, 2026-12-31) needs no year at all and returns 0.
//
// A calendar made WithProvisional also answers for unannounced years that have a
// statutory rule (see provisional.go), and says so: Day reports Provisional, and Deadline,
// CountWorkingDays and WorkingTime return provisional = true when a provisional day
// counted. The strict methods (IsWorkingDay, AddWorkingDays, WorkingDaysBetween,
// WorkingTimeBetween) keep refusing provisional years on every calendar.
//
// # Source
//
// Default returns the calendar embedded from cn-workday-calendar.json (2024–2026 at the
// time of writing). Load or Parse another file, in the same format, to cover new years;
// the hub overlays the years its coordinator publishes (Overlay) and fills the rest
// WithProvisional. Every year remembers its Source.
package calendar

import (
	_ "embed"
	"fmt"
	"slices"
	"sync"
	"time"
)

//go:embed cn-workday-calendar.json
var embedded []byte

// cst is Asia/Shanghai; see the package documentation for why a fixed zone is exact.
var cst = time.FixedZone("CST", 8*3600)

// Location returns the time zone the calendar's dates are in: UTC+08:00, named "CST".
func Location() *time.Location { return cst }

var defaultCalendar = sync.OnceValue(func() *Calendar {
	c, err := parse(embedded, SourceEmbedded)
	if err != nil {
		// Only reachable if the file shipped in the binary is broken; a test guards it.
		panic("calendar: embedded cn-workday-calendar.json is invalid: " + err.Error())
	}
	return c
})

// Default returns the calendar embedded in the binary, parsed once. It panics only if the
// embedded file is invalid, which TestDefaultEmbeddedParses rules out at build time.
func Default() *Calendar { return defaultCalendar() }

// Day describes one calendar date.
type Day struct {
	Date        string // YYYY-MM-DD in Asia/Shanghai
	Working     bool   // a working day (工作日)
	Weekend     bool   // a Saturday or Sunday (whether or not it is a make-up working day)
	Holiday     bool   // part of an announced public holiday (放假)
	Makeup      bool   // a make-up working day (调休上班), always a Saturday or Sunday
	HolidayName string // the holiday's name, e.g. "春节", when Holiday is true
	// Provisional is true when the date's year is not announced and the answer comes from
	// the statutory holidays alone (see WithProvisional).
	Provisional bool
}

// Calendar is an immutable working-day calendar covering the announced years. It is safe
// for concurrent use.
type Calendar struct {
	years map[int]*yearTable
	// provisional: unannounced years with a statutory rule are answered provisionally.
	provisional bool
}

// yearTable holds the flags of every date of one year, indexed by day of year.
type yearTable struct {
	first    date // January 1
	flags    []uint8
	holidays map[date]string
	source   Source
}

// finish sets the weekend and working flags from the holiday and make-up flags.
func (t *yearTable) finish() {
	for i, f := range t.flags {
		d := t.first + date(i)
		weekend := d.weekday() == time.Saturday || d.weekday() == time.Sunday
		if weekend {
			f |= flagWeekend
		}
		if f&flagMakeup != 0 || (!weekend && f&flagHoliday == 0) {
			f |= flagWorking
		}
		t.flags[i] = f
	}
}

const (
	flagWorking uint8 = 1 << iota
	flagWeekend
	flagHoliday
	flagMakeup
)

// date is a civil date counted in days since 1970-01-01.
type date int64

const secondsPerDay = 86400

// dateOf returns the Asia/Shanghai calendar date of t.
func dateOf(t time.Time) date {
	s := t.Unix() + 8*3600
	d := s / secondsPerDay
	if s%secondsPerDay < 0 {
		d--
	}
	return date(d)
}

// dateFromYMD returns the date y-m-d (which must be a valid date).
func dateFromYMD(y int, m time.Month, d int) date {
	return date(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / secondsPerDay)
}

// start returns 00:00 of d in Asia/Shanghai.
func (d date) start() time.Time {
	return time.Unix(int64(d)*secondsPerDay-8*3600, 0).In(cst)
}

func (d date) civil() time.Time { return time.Unix(int64(d)*secondsPerDay, 0).UTC() }

func (d date) year() int { return d.civil().Year() }

func (d date) weekday() time.Weekday { return time.Weekday((int64(d)%7 + 7 + 4) % 7) } // 1970-01-01 was a Thursday

func (d date) String() string { return d.civil().Format(time.DateOnly) }

// table returns the year table of y: the announced one, else (lenient, on a provisional
// calendar) the provisional one, else a *YearNotAnnouncedError.
func (c *Calendar) table(y int, lenient bool) (*yearTable, error) {
	if t := c.years[y]; t != nil {
		return t, nil
	}
	if lenient && c.provisional {
		if t := provisionalYear(y); t != nil {
			return t, nil
		}
	}
	return nil, &YearNotAnnouncedError{Year: y, Provisional: c.provisional}
}

// lookup returns the flags of d and whether they are provisional.
func (c *Calendar) lookup(d date, lenient bool) (uint8, bool, error) {
	t, err := c.table(d.year(), lenient)
	if err != nil {
		return 0, false, err
	}
	return t.flags[d-t.first], t.source.Kind == SourceProvisional, nil
}

// Years returns the announced years in ascending order.
func (c *Calendar) Years() []int {
	ys := make([]int, 0, len(c.years))
	for y := range c.years {
		ys = append(ys, y)
	}
	slices.Sort(ys)
	return ys
}

// Covers reports whether the calendar announces year.
func (c *Calendar) Covers(year int) bool { return c.years[year] != nil }

// Day describes the Asia/Shanghai calendar date of t. On a provisional calendar an
// unannounced year's date is described provisionally (Day.Provisional).
func (c *Calendar) Day(t time.Time) (Day, error) {
	d := dateOf(t)
	tb, err := c.table(d.year(), true)
	if err != nil {
		return Day{}, err
	}
	f := tb.flags[d-tb.first]
	day := Day{
		Date:        d.String(),
		Working:     f&flagWorking != 0,
		Weekend:     f&flagWeekend != 0,
		Holiday:     f&flagHoliday != 0,
		Makeup:      f&flagMakeup != 0,
		Provisional: tb.source.Kind == SourceProvisional,
	}
	if day.Holiday {
		day.HolidayName = tb.holidays[d]
	}
	return day, nil
}

// IsWorkingDay reports whether the Asia/Shanghai calendar date of t is a working day. It
// refuses a provisional year (use Day).
func (c *Calendar) IsWorkingDay(t time.Time) (bool, error) {
	f, _, err := c.lookup(dateOf(t), false)
	return f&flagWorking != 0, err
}

// AddWorkingDays returns the deadline for "within n working days from from": the end of
// the n-th working day strictly after from's date, that is 00:00 Asia/Shanghai of the
// calendar day following that working day (an exclusive bound: an act is in time when it
// happens before the returned instant). The day of from itself never counts, whatever
// the time of day. For example, for a request received on Friday 2026-02-13: with n = 1
// the deadline is 2026-02-15 00:00 CST (Saturday 02-14 is a make-up working day); with
// n = 2 it is 2026-02-25 00:00 CST (02-15 to 02-23 is the Spring Festival holiday, so the
// second working day is Tuesday 02-24). n must be at least 1.
//
// The result is in Location(). Dates from from's next day to the n-th working day must lie
// in announced years, otherwise the error is a *YearNotAnnouncedError (Deadline answers
// provisionally instead).
func (c *Calendar) AddWorkingDays(from time.Time, n int) (time.Time, error) {
	t, _, err := c.addWorkingDays(from, n, false)
	return t, err
}

// Deadline is AddWorkingDays that, on a provisional calendar, counts through unannounced
// years provisionally; provisional is true when a provisional day was examined.
func (c *Calendar) Deadline(from time.Time, n int) (end time.Time, provisional bool, err error) {
	return c.addWorkingDays(from, n, true)
}

func (c *Calendar) addWorkingDays(from time.Time, n int, lenient bool) (time.Time, bool, error) {
	if n < 1 {
		return time.Time{}, false, fmt.Errorf("calendar: AddWorkingDays needs n >= 1 working days, got %d", n)
	}
	d := dateOf(from)
	prov := false
	for n > 0 {
		d++
		f, p, err := c.lookup(d, lenient)
		if err != nil {
			return time.Time{}, false, err
		}
		prov = prov || p
		if f&flagWorking != 0 {
			n--
		}
	}
	return (d + 1).start(), prov, nil
}

// WorkingDaysBetween returns the number of working days d with date(from) < d <= date(to),
// dates taken in Asia/Shanghai: 0 when both fall on the same date, 1 from a Thursday to the
// next Friday when both are working days. It is an error when to is before from. Every
// date counted must lie in an announced year (*YearNotAnnouncedError otherwise).
func (c *Calendar) WorkingDaysBetween(from, to time.Time) (int, error) {
	n, _, err := c.countWorkingDays(from, to, false)
	return n, err
}

// CountWorkingDays is WorkingDaysBetween that counts provisional years on a provisional
// calendar, and says whether it did.
func (c *Calendar) CountWorkingDays(from, to time.Time) (n int, provisional bool, err error) {
	return c.countWorkingDays(from, to, true)
}

func (c *Calendar) countWorkingDays(from, to time.Time, lenient bool) (int, bool, error) {
	if to.Before(from) {
		return 0, false, fmt.Errorf("calendar: WorkingDaysBetween: to (%s) is before from (%s): pass the earlier time first",
			to.In(cst).Format(time.RFC3339), from.In(cst).Format(time.RFC3339))
	}
	n, prov := 0, false
	for d, last := dateOf(from)+1, dateOf(to); d <= last; d++ {
		f, p, err := c.lookup(d, lenient)
		if err != nil {
			return 0, false, err
		}
		prov = prov || p
		if f&flagWorking != 0 {
			n++
		}
	}
	return n, prov, nil
}

// WorkingTimeBetween returns how much of the half-open interval [from, to) falls on working
// days (each working day counting 24 hours, from 00:00 to 24:00 Asia/Shanghai). It measures
// data staleness: data last published at p is at most one working day stale at now when
// WorkingTimeBetween(p, now) <= 24*time.Hour. It is an error when to is before from. Every
// date that [from, to) overlaps must lie in an announced year (*YearNotAnnouncedError
// otherwise); a to of exactly 00:00 does not touch the day it starts.
func (c *Calendar) WorkingTimeBetween(from, to time.Time) (time.Duration, error) {
	w, _, err := c.workingTime(from, to, false)
	return w, err
}

// WorkingTime is WorkingTimeBetween that measures through provisional years on a
// provisional calendar, and says whether it did.
func (c *Calendar) WorkingTime(from, to time.Time) (w time.Duration, provisional bool, err error) {
	return c.workingTime(from, to, true)
}

func (c *Calendar) workingTime(from, to time.Time, lenient bool) (time.Duration, bool, error) {
	if to.Before(from) {
		return 0, false, fmt.Errorf("calendar: WorkingTimeBetween: to (%s) is before from (%s): pass the earlier time first",
			to.In(cst).Format(time.RFC3339Nano), from.In(cst).Format(time.RFC3339Nano))
	}
	var total time.Duration
	prov := false
	for d, last := dateOf(from), dateOf(to); d <= last; d++ {
		lo, hi := d.start(), (d + 1).start()
		if lo.Before(from) {
			lo = from
		}
		if hi.After(to) {
			hi = to
		}
		if !lo.Before(hi) {
			continue // [from, to) does not overlap this date (to is exactly 00:00, or from == to)
		}
		f, p, err := c.lookup(d, lenient)
		if err != nil {
			return 0, false, err
		}
		prov = prov || p
		if f&flagWorking != 0 {
			total += hi.Sub(lo)
		}
	}
	return total, prov, nil
}
