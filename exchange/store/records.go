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
	// Heartbeat declares a resource live at `at` (real-time resources with no change).
	Heartbeat(ctx context.Context, resource string, at time.Time) error
	// LastUpdates returns each resource's last successful publish or heartbeat.
	LastUpdates(ctx context.Context) (map[string]time.Time, error)
	// LastUpdate returns one resource's last publish or heartbeat (zero if none).
	LastUpdate(ctx context.Context, resource string) (time.Time, error)
}

// Objections tracks consumers' objections to records until the provider resolves them.
type Objections interface {
	// Raise stores a new open objection (ID set by the caller, unique).
	Raise(ctx context.Context, o *exchange.Objection) error
	// Get returns one objection, or exchange.ErrNotFound.
	Get(ctx context.Context, id string) (*exchange.Objection, error)
	// List returns objections matching f, newest first, at most limit (1..1000).
	List(ctx context.Context, f ObjectionFilter, limit int) ([]*exchange.Objection, error)
	// Resolve moves an open objection to state (corrected or rejected) with resolution
	// text, who and when. It MUST fail with reason OBJECTION_NOT_OPEN when it is not open
	// (also when two resolve concurrently: exactly one wins).
	Resolve(ctx context.Context, id string, state exchange.ObjectionState, by, resolution, evidence string, at time.Time) (*exchange.Objection, error)
}

// ObjectionFilter narrows Objections.List; zero fields are ignored.
type ObjectionFilter struct {
	Provider string
	Consumer string
	Resource string
	State    exchange.ObjectionState
}
