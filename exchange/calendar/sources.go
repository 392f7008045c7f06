package calendar

import (
	"fmt"
	"maps"
	"time"
)

// SourceKind says where a year of a calendar comes from.
type SourceKind string

// Sources of a year.
const (
	SourceEmbedded    SourceKind = "embedded"    // the file built into the binary
	SourceFile        SourceKind = "file"        // a file loaded at start (--calendar)
	SourcePublished   SourceKind = "published"   // published by the coordinator at run time
	SourceProvisional SourceKind = "provisional" // computed from the statutory holidays
)

// Source describes where a year comes from.
type Source struct {
	Kind SourceKind
	// Text is the file's "source" (which State Council notice), or, for a provisional
	// year, the rule it was computed from.
	Text string
	// Version, By and At describe a publication (SourcePublished only): the store's
	// publication version, the publishing department and when.
	Version int64
	By      string
	At      time.Time
}

// YearSource returns where year y comes from: its announcement, or on a provisional
// calendar the provisional computation. ok is false when the calendar cannot answer for y.
func (c *Calendar) YearSource(y int) (Source, bool) {
	t, err := c.table(y, true)
	if err != nil {
		return Source{}, false
	}
	return t.source, true
}

// Provisional reports whether c answers unannounced years provisionally.
func (c *Calendar) Provisional() bool { return c.provisional }

// WithProvisional returns a calendar with c's announced years that answers every
// unannounced year that has a statutory rule provisionally (see the package
// documentation). c is not changed.
func (c *Calendar) WithProvisional() *Calendar {
	return &Calendar{years: c.years, provisional: true}
}

// Overlay returns a calendar with c's years, and o's years in place of c's where both
// announce a year, each of o's years taking src as its source. c and o are not changed;
// the result answers provisionally when c does.
func (c *Calendar) Overlay(o *Calendar, src Source) *Calendar {
	years := maps.Clone(c.years)
	for y, t := range o.years {
		cp := *t
		s := src
		if s.Text == "" {
			s.Text = t.source.Text
		}
		cp.source = s
		years[y] = &cp
	}
	return &Calendar{years: years, provisional: c.provisional}
}

// WarnDays is how many days before its announced years run out the hub warns that the
// next year must be published.
const WarnDays = 60

// Coverage is how far ahead of a given day the calendar is announced.
type Coverage struct {
	Today string // YYYY-MM-DD, Asia/Shanghai
	// Through is the last announced day of the run of announced years that starts with
	// Today's year (YYYY-MM-DD), or "" when Today's year is not announced.
	Through string
	// DaysLeft counts the announced days from Today to Through, both included: 0 when
	// Today's year is not announced.
	DaysLeft int
	// NextYear is the first year from Today's on that is not announced.
	NextYear int
	// Warning is set when DaysLeft <= WarnDays: what runs out and what to do.
	Warning string
}

// CoverageAt measures how far ahead of now the calendar is announced.
func (c *Calendar) CoverageAt(now time.Time) Coverage {
	today := dateOf(now)
	cv := Coverage{Today: today.String()}
	y := today.year()
	for c.years[y] != nil {
		y++
	}
	cv.NextYear = y
	end := dateFromYMD(y, time.January, 1)
	if end > today {
		cv.Through = (end - 1).String()
		cv.DaysLeft = int(end - today)
	}
	if cv.DaysLeft > WarnDays {
		return cv
	}
	how := "statutory holidays only, no make-up working days"
	if ruleFor(y) == nil || !c.provisional {
		how = "refused: no provisional calendar for that year"
	}
	if cv.DaysLeft == 0 {
		cv.Warning = fmt.Sprintf("the working-day calendar has no announcement for %d: deadlines and freshness in %d are provisional (%s) until the coordinator publishes the State Council notice for %d (gxctl calendar publish --file %d.json)",
			y, y, how, y, y)
	} else {
		cv.Warning = fmt.Sprintf("the working-day calendar is announced through %s (%d days left): from %d-01-01 deadlines and freshness are provisional (%s) until the coordinator publishes the State Council notice for %d (gxctl calendar publish --file %d.json)",
			cv.Through, cv.DaysLeft, y, how, y, y)
	}
	return cv
}
