package exchange

import (
	"errors"
	"fmt"
	"time"
)

// WorkingTimer measures working time between two instants (exchange/calendar implements
// it). provisional is true when a day of an unannounced year counted from the statutory
// holidays alone; a year with neither is an error, never a guess.
//
// WorkingTimeBetween is the strict form: it refuses a year that is not announced; new code
// uses WorkingTime and carries the provisional flag.
type WorkingTimer interface {
	WorkingTime(from, to time.Time) (w time.Duration, provisional bool, err error)
	WorkingTimeBetween(from, to time.Time) (time.Duration, error)
}

// Calendar statuses of a Freshness.
const (
	FreshnessNeverPublished = "never_published" // no publish or heartbeat yet: stale
)

// ComputeFreshness measures how stale resource r is at now, given the time of its last
// successful publish or heartbeat (zero when there was none). The limit is r's
// FreshnessLimit in working days (default 1). A resource is stale when its working age
// exceeds limit×24h (A5). When the calendar cannot measure (a year not announced), the
// resource is reported stale with CalendarStatus saying why: freshness is never guessed.
// A working age measured over days of a provisional year is marked Provisional.
func ComputeFreshness(cal WorkingTimer, r *Resource, last, now time.Time) Freshness {
	limit := r.FreshnessLimit
	if limit <= 0 {
		limit = 1
	}
	f := Freshness{Resource: r.Code, LastUpdate: last, Limit: limit}
	if last.IsZero() {
		f.Stale, f.CalendarStatus = true, FreshnessNeverPublished
		return f
	}
	if now.Before(last) {
		return f // published "in the future" by a clock a little ahead: fresh
	}
	age, prov, err := cal.WorkingTime(last, now)
	if err != nil {
		f.Stale = true
		f.CalendarStatus = fmt.Sprintf("staleness cannot be measured: %v", err)
		return f
	}
	f.WorkingAge, f.Provisional = age, prov
	f.Stale = age > time.Duration(limit)*24*time.Hour
	return f
}

// ReasonDataStale is the reason of a fresh_only pull refused because a resource is stale.
const ReasonDataStale = "DATA_STALE"

// StaleError builds the error of a fresh_only pull on a stale resource.
func StaleError(f Freshness) error {
	if f.CalendarStatus == FreshnessNeverPublished {
		return Errorf(KindFailedPrecondition, ReasonDataStale,
			"resource %s has never been published or declared live by its provider, and fresh data was demanded (fresh_only): ask the provider to publish, or pull without fresh_only", f.Resource)
	}
	if f.CalendarStatus != "" {
		return Errorf(KindFailedPrecondition, ReasonDataStale,
			"resource %s: %s; fresh data was demanded (fresh_only), so nothing is returned: load an updated working-day calendar or pull without fresh_only", f.Resource, f.CalendarStatus)
	}
	return Errorf(KindFailedPrecondition, ReasonDataStale,
		"resource %s was last updated %s, %.1f working hours ago, beyond its limit of %d working day(s); fresh data was demanded (fresh_only), so nothing is returned: the provider must publish or send a heartbeat, or pull without fresh_only",
		f.Resource, f.LastUpdate.UTC().Format(time.RFC3339), f.WorkingAge.Hours(), f.Limit)
}

// IsStale reports whether err is a fresh_only refusal.
func IsStale(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Reason == ReasonDataStale
}
