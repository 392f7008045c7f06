package sqlstore

import (
	"context"
	"database/sql"
	"sync"
)

// SQLite (modernc) parses every statement it is given; with statements prepared once and
// reused, a pull's reads stop paying for parsing (9–14% of a pull's CPU in the profile of
// docs/BENCHMARKS.md). PostgreSQL (pgx) caches statements per connection itself; the cache
// does no harm there.

// maxCachedStmts bounds the cache. Only fixed query texts go through it: queries built
// per call (searches, filtered lists, multi-row inserts) run unprepared on the pool or
// the transaction, so they never take its places.
const maxCachedStmts = 256

type stmtKey struct {
	db *sql.DB
	q  string
}

type stmtCache struct {
	mu     sync.Mutex
	stmts  map[stmtKey]*sql.Stmt
	closed bool
}

// stmt returns q prepared on db, or nil if it cannot be cached (the caller then runs the
// query unprepared, which also reports any error in it).
func (c *stmtCache) stmt(ctx context.Context, db *sql.DB, q string) *sql.Stmt {
	k := stmtKey{db, q}
	c.mu.Lock()
	st, ok := c.stmts[k]
	full := len(c.stmts) >= maxCachedStmts
	closed := c.closed
	c.mu.Unlock()
	if ok || full || closed {
		return st
	}
	st, err := db.PrepareContext(ctx, q)
	if err != nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev, ok := c.stmts[k]; ok || c.closed {
		st.Close()
		return prev
	}
	if c.stmts == nil {
		c.stmts = map[stmtKey]*sql.Stmt{}
	}
	c.stmts[k] = st
	return st
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for _, st := range c.stmts {
		st.Close()
	}
	c.stmts = nil
}

// queryRow runs a single-row query outside a transaction through the statement cache.
func (s *Store) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	if tx := s.outerTx(ctx); tx != nil {
		return tx.QueryRowContext(ctx, q, args...)
	}
	if st := s.stmts.stmt(ctx, s.db, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return s.db.QueryRowContext(ctx, q, args...)
}

// query runs a query outside a transaction through the statement cache.
func (s *Store) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return s.queryOn(ctx, s.db, q, args...)
}

// queryOn runs a query on the pool db through the statement cache.
func (s *Store) queryOn(ctx context.Context, db *sql.DB, q string, args ...any) (*sql.Rows, error) {
	if tx := s.outerTx(ctx); tx != nil { // inside an audited write, whichever pool was asked
		return tx.QueryContext(ctx, q, args...)
	}
	if st := s.stmts.stmt(ctx, db, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return db.QueryContext(ctx, q, args...)
}

// exec runs a statement outside a transaction through the statement cache.
func (s *Store) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return s.execOn(ctx, s.db, q, args...)
}

// execOn runs a statement on the pool db through the statement cache.
func (s *Store) execOn(ctx context.Context, db *sql.DB, q string, args ...any) (sql.Result, error) {
	if tx := s.outerTx(ctx); tx != nil { // inside an audited write, whichever pool was asked
		return tx.ExecContext(ctx, q, args...)
	}
	if st := s.stmts.stmt(ctx, db, q); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return db.ExecContext(ctx, q, args...)
}
