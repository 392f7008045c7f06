package store

import (
	"context"
	"time"

	"github.com/gxhub/gxhub/exchange"
)

// Records holds published records with their full version history, the publish batches
// with their signatures, resource liveness (heartbeats) and objections (A4, A5).
type Records interface {
	// Publish applies the batch atomically: each change becomes the subject's next version
	// (starting at 1), or nothing is written. It records the batch with its evidence and
	// the resource's last successful publish time (b.At). It MUST fail with
	// exchange.ErrAlreadyExists (reason BATCH_EXISTS) when the batch id was used, and
	// reason NOTHING_TO_DELETE when a delete names a subject with no live record. It
	// returns the new versions in the batch's order.
	Publish(ctx context.Context, b *exchange.Batch) ([]*exchange.Record, error)
	// Latest returns the newest version of a subject's record (Deleted set when the newest
	// version is a deletion), or exchange.ErrNotFound.
	Latest(ctx context.Context, resource, subject string) (*exchange.Record, error)
	// Version returns one version, or exchange.ErrNotFound.
	Version(ctx context.Context, resource, subject string, version int64) (*exchange.Record, error)
	// History returns every version of a subject's record, oldest first.
	History(ctx context.Context, resource, subject string) ([]*exchange.Record, error)
	// Batch returns a stored batch (without its changes), or exchange.ErrNotFound.
	Batch(ctx context.Context, id string) (*exchange.Batch, error)
	// BatchRecords returns the record versions a stored batch wrote (any order; none for
	// an unknown batch).
	BatchRecords(ctx context.Context, id string) ([]*exchange.Record, error)
	// SetPublishRecord records the index of a batch's publish audit record (Batch.
	// PublishRecord); setting another index for a batch that has one fails.
	SetPublishRecord(ctx context.Context, batch string, index uint64) error
	// Heartbeat declares a resource live at `at` (real-time resources with no change).
	Heartbeat(ctx context.Context, resource string, at time.Time) error
	// LastUpdates returns each resource's last successful publish or heartbeat.
	LastUpdates(ctx context.Context) (map[string]time.Time, error)
	// LastUpdate returns one resource's last publish or heartbeat (zero if none).
	LastUpdate(ctx context.Context, resource string) (time.Time, error)
	// ChangesAfter reads the change feed: every record version Publish wrote, in a
	// sequence that is commit order (a change never appears behind a later one), written
	// in the publish's own transaction (exchange.ChangeFeed).
	ChangesAfter(ctx context.Context, resource string, after int64, limit int) ([]exchange.FeedChange, error)
}

// Objections tracks consumers' objections to records until the provider resolves them.
type Objections interface {
	// Raise stores a new open objection (ID set by the caller, unique) with its deadline.
	Raise(ctx context.Context, o *exchange.Objection) error
	// Get returns one objection, or exchange.ErrNotFound.
	Get(ctx context.Context, id string) (*exchange.Objection, error)
	// List returns objections matching f, newest first, at most limit (1..1000).
	List(ctx context.Context, f ObjectionFilter, limit int) ([]*exchange.Objection, error)
	// Resolve stores o's resolution (State corrected or rejected, Resolution, ResolvedBy,
	// ResolvedAt, ResolvedEvidence, CorrectedVersion) if the stored objection is still
	// open. It MUST fail with reason OBJECTION_NOT_OPEN otherwise (also when two resolve
	// concurrently: exactly one wins).
	Resolve(ctx context.Context, o *exchange.Objection) error
	// Escalate marks an open objection escalated at `at` if it is not yet; it reports
	// whether this call did it (of concurrent calls exactly one does).
	Escalate(ctx context.Context, id string, at time.Time) (bool, error)
	// Overdue returns open, not yet escalated objections whose deadline is at or before
	// now, oldest deadline first, at most limit (1..1000).
	Overdue(ctx context.Context, now time.Time, limit int) ([]*exchange.Objection, error)
}

// ObjectionFilter narrows Objections.List; zero fields are ignored.
type ObjectionFilter struct {
	Provider string
	Consumer string
	Resource string
	State    exchange.ObjectionState
	// Escalated selects only objections escalated to the coordinator.
	Escalated bool
}
