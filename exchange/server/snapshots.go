package server

import (
	"context"
	"sync"

	"github.com/gxhub/gxhub/exchange"
)

// SnapshotVersioner reads the store's snapshot version: a number that changes, in the same
// transaction, with every change to departments, certificate statuses, requirements (and
// their decisions) and catalogue entries — made through this hub, another replica or by
// hand in the database (sqlstore: triggers of migration 160).
type SnapshotVersioner interface {
	SnapshotVersion(ctx context.Context) (int64, error)
}

// Snapshots serves the request path's reference rows from memory, keyed by the snapshot
// version. A request reads the version once (Pin, in the authentication interceptor) and
// every cached row it uses was read at that version or later; a row cached at an older
// version is read again. So the staleness bound is zero: a change committed before a
// request began — a revoked requirement, a suspended or revoked certificate, a withdrawn
// resource — is seen by that request on every replica, because each replica reads the
// version from the shared database. What it saves is the rows' own queries (a
// requirement with its decisions, a resource, a department, a certificate status): one
// primary-key read of the version replaces them.
type Snapshots struct {
	Versions SnapshotVersioner

	mu   sync.Mutex
	rows map[snapKey]snapRow
}

type snapKey struct {
	kind string // "requirement", "resource", "department", "certstatus"
	key  string
}

type snapRow struct {
	version int64
	v       any
	err     error
}

// maxSnapRows bounds the cache; past it, the cache starts empty again.
const maxSnapRows = 100000

type pinnedVersion struct{}

// Pin returns ctx carrying the snapshot version read now; the cached reads of the request
// use it. Without Versions (or s nil), ctx is returned as is and nothing is cached.
func (s *Snapshots) Pin(ctx context.Context) (context.Context, error) {
	if s == nil || s.Versions == nil {
		return ctx, nil
	}
	v, err := s.Versions.SnapshotVersion(ctx)
	if err != nil {
		return ctx, err
	}
	return context.WithValue(ctx, pinnedVersion{}, v), nil
}

// version is the request's pinned version, or a fresh read.
func (s *Snapshots) version(ctx context.Context) (int64, error) {
	if v, ok := ctx.Value(pinnedVersion{}).(int64); ok {
		return v, nil
	}
	return s.Versions.SnapshotVersion(ctx)
}

// get returns the row of kind and key at the request's version, reading it with read
// when the cache holds none at that version. Errors of kind NotFound are kept like rows
// (an unknown id stays unknown until something changes); other errors are not.
func (s *Snapshots) get(ctx context.Context, kind, key string, read func() (any, error)) (any, error) {
	if s == nil || s.Versions == nil {
		return read()
	}
	v, err := s.version(ctx)
	if err != nil {
		return nil, err
	}
	k := snapKey{kind, key}
	s.mu.Lock()
	r, ok := s.rows[k]
	s.mu.Unlock()
	if ok && r.version >= v {
		return r.v, r.err
	}
	val, err := read()
	if err != nil && exchange.KindOf(err) != exchange.KindNotFound {
		return nil, err
	}
	s.mu.Lock()
	if s.rows == nil || len(s.rows) >= maxSnapRows {
		s.rows = map[snapKey]snapRow{}
	}
	// Keep the row read at the newest version asked: a slower request that pinned an
	// older version must not replace it.
	if cur, ok := s.rows[k]; !ok || cur.version <= v {
		s.rows[k] = snapRow{version: v, v: val, err: err}
	}
	s.mu.Unlock()
	return val, err
}

// Requirements returns r served from the snapshot (read-only use: the pull path).
func (s *Snapshots) Requirements(r exchange.RequirementReader) exchange.RequirementReader {
	if s == nil || s.Versions == nil {
		return r
	}
	return snapRequirements{s, r}
}

// Catalog returns r served from the snapshot for current entries (version 0).
func (s *Snapshots) Catalog(r exchange.ResourceReader) exchange.ResourceReader {
	if s == nil || s.Versions == nil {
		return r
	}
	return snapCatalog{s, r}
}

type snapRequirements struct {
	s *Snapshots
	r exchange.RequirementReader
}

// Get implements exchange.RequirementReader. The requirement returned is shared: callers
// must not modify it (the pull use case does not).
func (q snapRequirements) Get(ctx context.Context, id string) (*exchange.Requirement, error) {
	v, err := q.s.get(ctx, "requirement", id, func() (any, error) { return q.r.Get(ctx, id) })
	rq, _ := v.(*exchange.Requirement)
	if err == nil && rq == nil {
		return q.r.Get(ctx, id)
	}
	return rq, err
}

type snapCatalog struct {
	s *Snapshots
	r exchange.ResourceReader
}

// Get implements exchange.ResourceReader (shared, read-only; older versions uncached).
func (c snapCatalog) Get(ctx context.Context, code string, version int) (*exchange.Resource, error) {
	if version != 0 {
		return c.r.Get(ctx, code, version)
	}
	v, err := c.s.get(ctx, "resource", code, func() (any, error) { return c.r.Get(ctx, code, 0) })
	res, _ := v.(*exchange.Resource)
	if err == nil && res == nil {
		return c.r.Get(ctx, code, 0)
	}
	return res, err
}
