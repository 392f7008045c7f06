package store

import (
	"context"
	"time"
)

// The audit outbox (REQUIREMENTS C1/C2: no business write without its audit record, even
// across a crash). Every audited business write runs through Outbox.Audited: the write
// and its audit intent commit in ONE database transaction, or neither does. The log
// appender (AuditWriter) drains the pending intents in order into the audit log, marking
// each done in the same storage write as its leaf (ledger.IntentStorage), so that after
// any crash every committed write has exactly one audit record.

// Intent is an audit record waiting in the outbox, or drained.
type Intent struct {
	// Seq is the outbox's order, assigned by the store when the intent commits.
	Seq uint64
	// Log is the audit log the record goes to.
	Log string
	// ID is unique per intent, chosen by the writer (a random value); the store refuses
	// a second intent with the same ID.
	ID string
	// Leaf is the audit record's canonical encoding (ledger.Record.MarshalBinary).
	Leaf []byte
	// MAC is the writer's seal over ID and Leaf (see AuditWriter): an intent edited in
	// the database does not verify and is not appended.
	MAC []byte
	// CreatedAt is when the intent was written.
	CreatedAt time.Time
	// Done reports that the record is in the log, at Index.
	Done  bool
	Index uint64
}

// Outbox keeps audit intents.
type Outbox interface {
	// Audited runs fn and stores the intents it returns (pending) in ONE transaction:
	// the store's methods called with the context fn receives join it (a method that
	// opens its own transaction gets a savepoint), and it commits only when fn returns
	// nil and at least one intent; otherwise nothing of fn's writes nor any intent is
	// kept. It returns the intents' Seqs, in order. fn MUST use the context it is given
	// for every write that belongs to the business write.
	Audited(ctx context.Context, fn func(ctx context.Context) ([]Intent, error)) ([]uint64, error)
	// Pending returns the pending intents of log with Seq > after, in Seq order, at most
	// limit (1..1000).
	Pending(ctx context.Context, log string, after uint64, limit int) ([]Intent, error)
	// Get returns the intent with seq, or exchange.ErrNotFound.
	Get(ctx context.Context, seq uint64) (Intent, error)
	// Drained returns the intents of log already appended whose leaf index is in
	// [from, to), in index order (an auditor's or a test's cross-check).
	Drained(ctx context.Context, log string, from, to uint64) ([]Intent, error)
}
