package calendar

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Publication is the coordinator's publication of one or more announced years (the State
// Council notice typed into the calendar file format), as the hub stores it: the file
// exactly as published, who published it with which signed request, and why a year that
// was already announced was replaced.
type Publication struct {
	Version    int64 // assigned by the store: 1, 2, …
	Years      []int // the years the file announces, ascending
	File       []byte
	Replace    bool   // the publisher asked to replace announced years
	Reason     string // why (required when an announced year is replaced)
	By         string // department code of the coordinator
	Operator   string // operator inside it, if named
	At         time.Time
	Evidence   string // the signed request that carried the publication (GXHUB-SM2 JWS)
	BodyDigest string // base64url SM3 of the request body the signature covers
}

// Stable reasons of a refused publication.
const (
	ReasonFileInvalid         = "CALENDAR_FILE_INVALID"
	ReasonSourceMissing       = "CALENDAR_SOURCE_MISSING"
	ReasonStatutoryMissing    = "CALENDAR_STATUTORY_HOLIDAY_MISSING"
	ReasonYearAnnounced       = "CALENDAR_YEAR_ANNOUNCED"
	ReasonReplaceReasonNeeded = "CALENDAR_REPLACE_REASON_MISSING"
)

// PublishError is a refused publication: Reason is one of the Reason constants, and the
// message says what is wrong and what to do.
type PublishError struct {
	Reason string
	Msg    string
}

func (e *PublishError) Error() string { return e.Msg }

func refuse(reason, format string, args ...any) error {
	return &PublishError{Reason: reason, Msg: fmt.Sprintf(format, args...)}
}

// CheckStatutory checks that every statutory public holiday of each year c announces (for
// years with a statutory rule) is a holiday in c: the law makes those days rest days
// whatever the notice arranges, so a file without one has a typo.
func (c *Calendar) CheckStatutory() error {
	for _, y := range c.Years() {
		ds := statutoryDates(y)
		t := c.years[y]
		for _, d := range slices.Sorted(maps.Keys(ds)) {
			if t.flags[d-t.first]&flagHoliday == 0 {
				return refuse(ReasonStatutoryMissing,
					"years.%d: %s (%s) is a statutory public holiday under %s, but no holiday range of the file contains it: every statutory holiday is a rest day; check the dates against the State Council notice",
					y, d, ds[d], ruleFor(y).desc)
			}
		}
	}
	return nil
}

// PreparePublication validates a calendar file the coordinator wants to publish over
// current (the calendar in force) and returns it parsed, with its years in ascending order.
// The file must parse (Parse's checks: dates inside their year, ranges ordered and not
// overlapping, make-up days on weekends and never inside a holiday), name its source (the
// notice), hold every statutory holiday of its years (CheckStatutory), and replace a year
// current already announces (embedded, loaded or published) only when replace is set
// with a reason. A provisional year needs no replace. Errors are *PublishError.
func PreparePublication(current *Calendar, file []byte, replace bool, reason string) (*Calendar, []int, error) {
	c, err := Parse(file)
	if err != nil {
		return nil, nil, refuse(ReasonFileInvalid, "%s: fix the file and publish it again; nothing was stored", strings.TrimPrefix(err.Error(), "calendar: "))
	}
	years := c.Years()
	if c.years[years[0]].source.Text == "" { // the file's "source", the same for every year
		return nil, nil, refuse(ReasonSourceMissing,
			`"source" is missing or empty: name the State Council notice the file transcribes (e.g. "国务院办公厅关于2027年部分节假日安排的通知, issued 2026-11-xx"); nothing was stored`)
	}
	if err := c.CheckStatutory(); err != nil {
		return nil, nil, err
	}
	var announced []string
	for _, y := range years {
		if t := current.years[y]; t != nil {
			announced = append(announced, describeAnnounced(y, t.source))
		}
	}
	if len(announced) > 0 {
		if !replace {
			return nil, nil, refuse(ReasonYearAnnounced,
				"%s: to replace it, publish again with replace (gxctl calendar publish --replace --reason \"…\"); nothing was stored", strings.Join(announced, "; "))
		}
		if strings.TrimSpace(reason) == "" {
			return nil, nil, refuse(ReasonReplaceReasonNeeded,
				"%s: replacing an announced year needs a reason (--reason), which is audited; nothing was stored", strings.Join(announced, "; "))
		}
	}
	return c, years, nil
}

func describeAnnounced(y int, s Source) string {
	switch s.Kind {
	case SourcePublished:
		return fmt.Sprintf("%d is already announced (published as version %d by %s at %s)", y, s.Version, s.By, s.At.UTC().Format(time.RFC3339))
	case SourceEmbedded:
		return fmt.Sprintf("%d is already announced (embedded in the hub: %s)", y, s.Text)
	default:
		return fmt.Sprintf("%d is already announced (loaded from the hub's --calendar file: %s)", y, s.Text)
	}
}

// Apply returns base with the publications (oldest first) overlaid: each publication's
// years replace what came before, with a SourcePublished source naming it. A stored
// publication that no longer parses or lacks a statutory holiday (the database was edited,
// or the rules changed) is skipped and reported in bad; the others still apply.
func Apply(base *Calendar, pubs []Publication) (c *Calendar, bad []error) {
	c = base
	for _, p := range pubs {
		f, err := Parse(p.File)
		if err == nil {
			err = f.CheckStatutory()
		}
		if err != nil {
			bad = append(bad, fmt.Errorf("calendar publication version %d (by %s at %s) is invalid and is ignored: %w", p.Version, p.By, p.At.UTC().Format(time.RFC3339), err))
			continue
		}
		c = c.Overlay(f, Source{Kind: SourcePublished, Version: p.Version, By: p.By, At: p.At})
	}
	return c, bad
}
