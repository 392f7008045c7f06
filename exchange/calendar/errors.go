package calendar

import (
	"errors"
	"fmt"
)

// ErrYearNotAnnounced is wrapped by every *YearNotAnnouncedError. Detect it with
// errors.Is: the answer depends on a year the calendar does not announce (and, on a
// provisional calendar, cannot compute provisionally either), so the caller must get an
// updated calendar (the State Council notice for that year is usually published in
// October–December of the year before) instead of guessing.
var ErrYearNotAnnounced = errors.New("working-day calendar year not announced")

// YearNotAnnouncedError reports the first year a computation needed and the calendar does
// not announce. It wraps ErrYearNotAnnounced; get the year with errors.As.
type YearNotAnnouncedError struct {
	Year int
	// Provisional is set when the calendar answers unannounced years provisionally but
	// has no statutory rule or lunar data for Year.
	Provisional bool
}

func (e *YearNotAnnouncedError) Error() string {
	if e.Provisional {
		return fmt.Sprintf("working-day calendar has no announcement for %d and no provisional calendar for it (statutory holidays are known for %d–%d): the coordinator publishes the State Council notice (gxctl calendar publish), or start the hub with --calendar FILE",
			e.Year, statutoryRules[0].from, lastLunarYear)
	}
	return fmt.Sprintf("working-day calendar has no announcement for %d: the coordinator publishes the State Council notice (gxctl calendar publish), or load an updated calendar with --calendar", e.Year)
}

// Unwrap returns ErrYearNotAnnounced.
func (e *YearNotAnnouncedError) Unwrap() error { return ErrYearNotAnnounced }
