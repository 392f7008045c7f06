package store

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gxhub/gxhub/ledger"
)

// AuditIndex is the queryable index of an audit log's records (REQUIREMENTS C4). The
// index is derived data: each row is decoded from a leaf of the Merkle log by an indexer
// that follows the log in its own transactions (off the append path), and Search returns
// the leaf bytes themselves, so a caller can always check a result against an inclusion
// proof. Proofs never come from the index. Every read (Search, HourlyCounts, Indexed)
// first brings the index up to the stored log, so it never misses a committed leaf.
//
// The SQL store provides it as (*sqlstore.Store).AuditIndex(logID).
type AuditIndex interface {
	// Search returns the entries matching q with index >= start, in index order, at most
	// limit (1..1000). Zero-valued filter fields are ignored.
	Search(ctx context.Context, q AuditQuery, start uint64, limit int) ([]AuditEntry, error)
	// HourlyCounts returns, per department and UTC hour, how many records of kind were
	// recorded with a time in [from, to). Hours without records are absent.
	HourlyCounts(ctx context.Context, kind ledger.Kind, from, to time.Time) ([]HourCount, error)
	// CaseSubjects returns, per case number and department, how many distinct subjects the
	// records of kind name with a time in [from, to), for the cases naming at least min.
	// Records without a case or a subject are not counted.
	CaseSubjects(ctx context.Context, kind ledger.Kind, from, to time.Time, min int) ([]CaseSubjectCount, error)
	// Backfill indexes every leaf of the log the index has not caught up with yet and
	// returns how many it indexed. It is idempotent and safe to run while the log appends
	// and from several processes.
	Backfill(ctx context.Context) (int, error)
	// Indexed brings the index up to the log and returns how many leaves it covers.
	Indexed(ctx context.Context) (uint64, error)
}

// AuditQuery selects audit records. Every set field must match (AND).
type AuditQuery struct {
	// Subject is the keyed hash of the data subject; zero for any.
	Subject ledger.SubjectKey
	// Department is the acting department's code.
	Department string
	// Resource is the resource, certificate serial, policy id … acted on.
	Resource string
	// Case is the case number (办件编码).
	Case string
	// Matter is the matter (事项) code.
	Matter string
	// Kind is the record kind ("pull", "requirement.decision", …).
	Kind ledger.Kind
	// Outcome is granted, denied, ok or failed.
	Outcome ledger.Outcome
	// ReasonCode is the leading token of the record's reason (see [ReasonCode]).
	ReasonCode string
	// From and To bound the record time: From <= time < To; zero for unbounded.
	From, To time.Time
	// WithoutCase selects only records with an empty case number.
	WithoutCase bool
}

// AuditEntry is one index row with the record's canonical leaf.
type AuditEntry struct {
	// Index is the leaf index in the log.
	Index uint64
	// Leaf is the record's canonical encoding, exactly as hashed into the log.
	Leaf []byte
	// Record is Leaf decoded; zero if the leaf is not a record (Undecodable).
	Record ledger.Record
	// Undecodable reports a leaf that does not decode as a ledger.Record.
	Undecodable bool
}

// CaseSubjectCount is how many distinct subjects one case's records name.
type CaseSubjectCount struct {
	Case       string
	Department string
	Subjects   int64
	Records    int64
}

// HourCount is the number of records of a department in one UTC hour.
type HourCount struct {
	Department string
	// Hour is the start of the hour (UTC).
	Hour  time.Time
	Count int64
}

// ReasonCode returns the leading token of a record's reason: the characters before the
// first ':', ';', space or '→'. Pull refusals start with a stable reason such as
// "REQUIREMENT_REVOKED: …"; requirement decisions with their action ("revoke → revoked").
func ReasonCode(reason string) string {
	reason = strings.TrimSpace(reason)
	if i := strings.IndexAny(reason, ":; →\t\n"); i >= 0 {
		reason = reason[:i]
	}
	for len(reason) > 64 {
		_, n := utf8.DecodeLastRuneInString(reason)
		reason = reason[:len(reason)-n]
	}
	return reason
}
