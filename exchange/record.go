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
	// Seal commits the version to the publish audit record of its batch (set by the hub at
	// publish; a pull checks the stored data against it before serving anything).
	Seal RecordSeal
}

// RecordSeal is what ties a record version to the audit log (docs/AUDIT.md, "Record
// integrity"): the hub draws Salt when the version is published, from which each data item's
// salted commitment is derived; the version's digest over those commitments is leaf Position
// of the batch's BatchSize digests, whose Merkle root the batch's publish audit record
// commits to; Path is the audit path from that leaf to the root.
type RecordSeal struct {
	Salt      []byte
	Position  uint64
	BatchSize uint64
	Path      [][]byte
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
