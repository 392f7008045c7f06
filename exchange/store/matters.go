package store

import (
	"context"

	"github.com/gxhub/gxhub/exchange"
)

// Matters is the government-service matter catalogue (事项目录, REQUIREMENTS A7): for each
// matter the materials an applicant must provide and where each can be obtained instead.
type Matters interface {
	// Put stores m. A new code must have m.Version 1; a change must have the current
	// version + 1 (compare-and-set: ErrFailedPrecondition MATTER_VERSION_CONFLICT, writing
	// nothing). ErrAlreadyExists (MATTER_EXISTS) when version 1 is put for a taken code.
	Put(ctx context.Context, m *exchange.Matter) error
	// Get returns the current version of the matter, or ErrNotFound (MATTER_NOT_FOUND).
	Get(ctx context.Context, code string) (*exchange.Matter, error)
	// List returns matters ordered by code, starting after `after` (exclusive), at most
	// limit (1..1000); department filters by the owning department when not empty.
	List(ctx context.Context, department, after string, limit int) ([]*exchange.Matter, error)
}
