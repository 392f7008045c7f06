package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"time"
)

func init() {
	// How far the audit index has caught up with each log. Until migration 12 the index
	// rows were written in the append's own transaction, so a log whose rows form a
	// complete prefix starts after it; any other log is indexed again from 0 (rows that
	// exist are kept).
	register(migration{12, "audit index: watermark of the indexer that follows the log", `
CREATE TABLE audit_index_state (
	log_id   TEXT PRIMARY KEY,
	next_idx {{int64}} NOT NULL
);
INSERT INTO audit_index_state (log_id, next_idx)
	SELECT log_id, CASE WHEN count(*) = max(idx) + 1 THEN max(idx) + 1 ELSE 0 END FROM audit_index GROUP BY log_id;
`})
}

// The audit index follows the log instead of being written in the append's transaction:
// its rows touch seven B-trees at random places (subjects, cases), which cost more than
// the leaf and its tree nodes together and capped group-committed appends at a third of
// what the log writes without them. The index is derived data: the indexer brings it up
// to the stored log in transactions of up to indexBatch leaves, each moving the log's
// watermark in audit_index_state with the rows it wrote, so a crash at any point leaves
// a consistent prefix and the next catch-up continues after it. Readers of the index
// (Search, HourlyCounts, Indexed) catch up first, so they never miss a committed leaf.

// indexBatch bounds the leaves one index transaction writes (SQLite holds its single
// write lock for it; appends wait that long).
const indexBatch = 512

// indexDelay lets leaves accumulate after a commit before the indexer writes them.
const indexDelay = 50 * time.Millisecond

// indexRetry is how long the indexer waits after a failed catch-up (readers still catch
// up themselves and report the error).
const indexRetry = time.Second

type indexer struct {
	s     *Store
	log   string
	kicks chan struct{}
	// mu serialises this process's catch-ups of the log; other processes (replicas) are
	// kept consistent by the watermark's compare-and-set.
	mu sync.Mutex
}

// indexer returns the log's indexer, starting it on first use.
func (s *Store) indexer(log string) *indexer {
	s.bgMu.Lock()
	defer s.bgMu.Unlock()
	if ix, ok := s.indexers[log]; ok {
		return ix
	}
	if s.indexers == nil {
		s.indexers = map[string]*indexer{}
	}
	ix := &indexer{s: s, log: log, kicks: make(chan struct{}, 1)}
	s.indexers[log] = ix
	if !s.closed && !s.indexOnRead {
		s.bg.Add(1)
		go ix.run(s.bgCtx)
	}
	return ix
}

// stopBackground stops the background goroutines and waits for them.
func (s *Store) stopBackground() {
	s.bgMu.Lock()
	s.closed = true
	s.bgCancel()
	s.bgMu.Unlock()
	s.bg.Wait()
}

// kick tells the indexer that the log has grown.
func (ix *indexer) kick() {
	select {
	case ix.kicks <- struct{}{}:
	default:
	}
}

func (ix *indexer) run(ctx context.Context) {
	defer ix.s.bg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ix.kicks:
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(indexDelay):
		}
		if _, err := ix.catchUp(ctx); err != nil && ctx.Err() == nil {
			select {
			case <-ctx.Done():
				return
			case <-time.After(indexRetry):
				ix.kick()
			}
		}
	}
}

// catchUp indexes every leaf of the log beyond the watermark and returns how many it
// indexed.
func (ix *indexer) catchUp(ctx context.Context) (int, error) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	total := 0
	for {
		n, err := ix.step(ctx)
		total += n
		if err != nil {
			return total, ledgerErr("index audit records", err)
		}
		if n < indexBatch {
			return total, nil
		}
	}
}

// step indexes up to indexBatch leaves after the watermark in one transaction.
func (ix *indexer) step(ctx context.Context) (int, error) {
	s, db := ix.s, ix.s.relaxedPool() // index rows can always be derived again; the watermark commits with them
	next, err := s.indexWatermark(ctx, ix.log)
	if err != nil {
		return 0, err
	}
	// Leaves are immutable once committed, so they are read outside the write transaction
	// (SQLite holds its one write lock for as short as possible).
	ls := &ledgerStorage{s: s, log: ix.log}
	size, err := ls.Size(ctx)
	if err != nil || uint64(next) >= size {
		return 0, err
	}
	leaves, err := ls.ReadLeaves(ctx, uint64(next), min(size-uint64(next), indexBatch))
	if err != nil {
		return 0, err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	if err := s.insertIndex(ctx, tx, ix.log, uint64(next), leaves); err != nil {
		return 0, err
	}
	end := next + int64(len(leaves))
	if _, err := tx.ExecContext(ctx, `INSERT INTO audit_index_state (log_id, next_idx) VALUES ($1, $2)
ON CONFLICT (log_id) DO UPDATE SET next_idx = excluded.next_idx WHERE audit_index_state.next_idx < excluded.next_idx`, ix.log, end); err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, err
	}
	return len(leaves), nil
}

// indexWatermark returns the index of the first leaf of the log not yet indexed.
func (s *Store) indexWatermark(ctx context.Context, log string) (int64, error) {
	var next int64
	err := s.queryRow(ctx, `SELECT next_idx FROM audit_index_state WHERE log_id = $1`, log).Scan(&next)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return next, err
}
