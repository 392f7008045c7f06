package store

import (
	"context"
	"time"

	"github.com/gxhub/gxhub/exchange"
)

// Catalog is the resource catalogue (政务数据资源目录, REQUIREMENTS A1). Every change of
// a resource is a new version; all versions stay readable.
type Catalog interface {
	// Create stores r as version 1 (r.Version is set to 1). It MUST fail with
	// exchange.ErrAlreadyExists (reason RESOURCE_EXISTS) when the code is taken, writing
	// nothing. r must already be valid (exchange.Resource.Validate).
	Create(ctx context.Context, r *exchange.Resource) error
	// Update stores r as a new version. r.Version must be the current version + 1: the
	// write is compare-and-set, so of two concurrent updates from the same version exactly
	// one succeeds and the other fails with exchange.ErrFailedPrecondition (reason
	// RESOURCE_VERSION_CONFLICT), writing nothing. ErrNotFound (RESOURCE_NOT_FOUND) when
	// the code is unknown. The provider of a resource never changes (RESOURCE_PROVIDER_FIXED).
	Update(ctx context.Context, r *exchange.Resource) error
	// Get returns the resource at version (0 = the current version), or ErrNotFound
	// (RESOURCE_NOT_FOUND, RESOURCE_VERSION_NOT_FOUND). Published/PublishedAt reflect the
	// resource now, whatever the version asked for.
	Get(ctx context.Context, code string, version int) (*exchange.Resource, error)
	// History returns the versions of a resource in ascending order, those after
	// afterVersion, at most limit (1..1000); ErrNotFound when the code is unknown.
	History(ctx context.Context, code string, afterVersion, limit int) ([]*exchange.Resource, error)
	// Search returns current versions ordered by code, starting after `after` (exclusive),
	// at most limit (1..1000).
	Search(ctx context.Context, f ResourceFilter, after string, limit int) ([]*exchange.Resource, error)
	// MarkPublished records that the provider has published data for the resource (the
	// first call sets PublishedAt; later calls change nothing). ErrNotFound when unknown.
	// The records/publishing side calls it on a resource's first successful publish.
	MarkPublished(ctx context.Context, code string, at time.Time) error
}

// ResourceFilter narrows Catalog.Search. Zero fields are ignored.
type ResourceFilter struct {
	// Text matches a substring of the resource's code, name or description.
	Text string
	// Provider is a provider department code (exact).
	Provider string
	// Item matches a substring of any data item's name or title (中文名称).
	Item string
	// ShareType is exact.
	ShareType exchange.ShareType
}
