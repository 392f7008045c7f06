package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/gxhub/gxhub/ledger"
)

// Querier is what a snapshot is read through: a *sql.DB over a copied database file, or
// the *sql.Tx holding an exported PostgreSQL snapshot.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// SnapshotLog reads the audit log logID of a database snapshot without a Store (no
// migration, nothing written): its latest signed head and its size, and hands each of the
// first head.Size leaves to leaf, in order. It fails with ledger.ErrNotFound when no
// head was signed yet.
func SnapshotLog(ctx context.Context, q Querier, logID string, leaf func([]byte)) (ledger.SignedTreeHead, uint64, error) {
	var head ledger.SignedTreeHead
	var s string
	err := q.QueryRowContext(ctx, `SELECT head FROM ledger_heads WHERE log_id = $1 ORDER BY size DESC LIMIT 1`, logID).Scan(&s)
	if errors.Is(err, sql.ErrNoRows) {
		return head, 0, fmt.Errorf("%w: log %s has no signed head yet", ledger.ErrNotFound, logID)
	}
	if err != nil {
		return head, 0, fmt.Errorf("read the latest head of %s: %w", logID, err)
	}
	if err := json.Unmarshal([]byte(s), &head); err != nil {
		return head, 0, fmt.Errorf("%w: stored head does not decode: %v", ledger.ErrVerification, err)
	}
	var size int64
	if err := q.QueryRowContext(ctx, `SELECT size FROM ledger_logs WHERE log_id = $1`, logID).Scan(&size); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return head, 0, fmt.Errorf("read the size of %s: %w", logID, err)
	}
	// The leaves, bundle by bundle (ledger_tiles.go).
	rows, err := q.QueryContext(ctx, `SELECT bundle, pos, entries FROM ledger_bundles WHERE log_id = $1 AND bundle <= $2 ORDER BY bundle, pos`,
		logID, int64(head.Size>>tileBits))
	if err != nil {
		return head, 0, fmt.Errorf("read the leaves of %s: %w", logID, err)
	}
	defer rows.Close()
	next := uint64(0)
	for rows.Next() && next < head.Size {
		var bundle int64
		var pos int
		var b []byte
		if err := rows.Scan(&bundle, &pos, &b); err != nil {
			return head, 0, err
		}
		es, err := DecodeEntries(b)
		if err != nil {
			return head, 0, fmt.Errorf("bundle %d of %s: %w", bundle, logID, err)
		}
		if uint64(bundle)<<tileBits+uint64(pos) != next {
			return head, 0, fmt.Errorf("%w: leaf %d of %s missing from the snapshot", ledger.ErrNotFound, next, logID)
		}
		for _, e := range es {
			if next < head.Size {
				leaf(e)
				next++
			}
		}
	}
	if err := rows.Err(); err != nil {
		return head, 0, err
	}
	if next < head.Size {
		return head, 0, fmt.Errorf("%w: %d of the %d leaves of %s under its head in the snapshot", ledger.ErrNotFound, next, head.Size, logID)
	}
	return head, uint64(size), nil
}
