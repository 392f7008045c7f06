package store

import (
	"context"

	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/calendar"
)

// CalendarYears holds the working-day calendar years the coordinator publishes (F5), as a
// versioned list of publications: every publication is kept, and the calendar in force is
// the hub's base calendar with all of them applied in version order (calendar.Apply).
type CalendarYears interface {
	// Version returns the newest publication's version (0 when none). It MUST be cheap:
	// every replica calls it every second or so to notice a publication made elsewhere.
	Version(ctx context.Context) (int64, error)
	// Publish stores p as version expect+1 and returns it with Version set. It MUST fail
	// with ErrCalendarConflict, writing nothing, when the newest version is not expect
	// (another publication came first: read again, check again, retry).
	Publish(ctx context.Context, p calendar.Publication, expect int64) (calendar.Publication, error)
	// Publications returns the publications with a version above after, oldest first, at
	// most limit (1..1000).
	Publications(ctx context.Context, after int64, limit int) ([]calendar.Publication, error)
}

// ErrCalendarConflict reports a concurrent calendar publication.
var ErrCalendarConflict = exchange.Errorf(exchange.KindFailedPrecondition, "CALENDAR_VERSION_CONFLICT",
	"another calendar publication was stored first: read the calendar again and publish again")
