package calendar

import (
	"errors"
	"fmt"
)

// ErrYearNotAnnounced is wrapped by every *YearNotAnnouncedError. Detect it with
// errors.Is: the answer depends on a year the loaded calendar does not announce, so the
// caller must load an updated calendar file (the State Council notice for that year is
// usually published in October–December of the year before) instead of guessing.
var ErrYearNotAnnounced = errors.New("working-day calendar year not announced")

// YearNotAnnouncedError reports the first year a computation needed and the calendar does
// not announce. It wraps ErrYearNotAnnounced; get the year with errors.As.
type YearNotAnnouncedError struct {
	Year int
}

func (e *YearNotAnnouncedError) Error() string {
	return fmt.Sprintf("working-day calendar has no announcement for %d: load an updated calendar (State Council notice) with --calendar", e.Year)
}

// Unwrap returns ErrYearNotAnnounced.
func (e *YearNotAnnouncedError) Unwrap() error { return ErrYearNotAnnounced }
