package exchange

import "time"

// Record is one published version of a subject's data in a resource. Every upsert or
// delete creates a new version; earlier versions stay provable.
type Record struct {
	Resource    string
	Subject     string // the subject key: ID number, 统一社会信用代码 or certificate number
	Version     int64
	Fields      map[string]string
	Deleted     bool
	PublishedAt time.Time
	PublishedBy string // provider department code
	Batch       string // batch id the version arrived in
}

// Freshness is a resource's staleness state.
type Freshness struct {
	Resource       string
	LastUpdate     time.Time // last successful publish or heartbeat
	WorkingAge     time.Duration
	Limit          int // working days
	Stale          bool
	CalendarStatus string // "" or why staleness cannot be computed (e.g. year not announced)
	// Provisional is set when WorkingAge counted days of a year whose working-day calendar
	// is not announced, from the statutory holidays alone.
	Provisional bool
}
