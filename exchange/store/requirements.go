package store

import (
	"context"
	"time"

	"github.com/gxhub/gxhub/exchange"
)

// Requirements holds filed requirements (需求清单, REQUIREMENTS A2) and their signed
// decision history. State changes are compare-and-set on the number of decisions, so two
// concurrent decisions on the same requirement can never both apply.
type Requirements interface {
	// Create stores a newly filed requirement with its first decisions (r.Decisions, Seq
	// 1..n). ErrAlreadyExists (REQUIREMENT_EXISTS) when the ID is taken, writing nothing.
	Create(ctx context.Context, r *exchange.Requirement) error
	// Get returns the requirement with its decisions in Seq order, or ErrNotFound
	// (REQUIREMENT_NOT_FOUND).
	Get(ctx context.Context, id string) (*exchange.Requirement, error)
	// Decide appends d to r's history and writes r's mutable fields (Items, MatterCodes,
	// LegalDuty, ScopeRegion, State, Deadline, DeadlineDays, DeadlineProvisional,
	// UpdatedAt), atomically, if and only if the
	// stored requirement is in state from and has exactly d.Seq-1 decisions. Otherwise it
	// writes nothing and fails with ErrFailedPrecondition (reason REQUIREMENT_CHANGED: the
	// requirement changed since it was read; read it again), or ErrNotFound.
	Decide(ctx context.Context, r *exchange.Requirement, from exchange.RequirementState, d exchange.Decision) error
	// List returns requirements ordered by ID, starting after `after` (exclusive), at
	// most limit (1..1000), without their decisions (Decisions is nil).
	List(ctx context.Context, f RequirementFilter, after string, limit int) ([]*exchange.Requirement, error)
	// Overdue returns requirements in a state with a pending deadline (under_review,
	// awaiting_provider) whose deadline is at or before now, oldest deadline first, at most
	// limit (1..1000), without their decisions.
	Overdue(ctx context.Context, now time.Time, limit int) ([]*exchange.Requirement, error)
}

// RequirementFilter narrows Requirements.List. Zero fields are ignored.
type RequirementFilter struct {
	Consumer string
	Provider string
	Resource string
	State    exchange.RequirementState
	// DeadlineProvisional keeps only requirements whose pending deadline was computed
	// provisionally (to recompute once the year is published).
	DeadlineProvisional bool
}
