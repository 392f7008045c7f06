package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/gxhub/gxhub/ledger"
)

func init() {
	register(migration{10, "audit ledger: leaves, nodes, heads, anchors", `
CREATE TABLE ledger_logs (
	log_id TEXT PRIMARY KEY,
	size   {{int64}} NOT NULL
);
CREATE TABLE ledger_leaves (
	log_id TEXT NOT NULL,
	idx    {{int64}} NOT NULL,
	leaf   {{blob}} NOT NULL,
	PRIMARY KEY (log_id, idx)
);
CREATE TABLE ledger_nodes (
	log_id TEXT NOT NULL,
	level  INTEGER NOT NULL,
	idx    {{int64}} NOT NULL,
	hash   {{blob}} NOT NULL,
	PRIMARY KEY (log_id, level, idx)
);
CREATE TABLE ledger_heads (
	log_id TEXT NOT NULL,
	size   {{int64}} NOT NULL,
	head   TEXT NOT NULL,
	PRIMARY KEY (log_id, size)
);
CREATE TABLE ledger_anchors (
	log_id    TEXT NOT NULL,
	height    {{int64}} NOT NULL,
	tree_size {{int64}} NOT NULL,
	block     TEXT NOT NULL,
	PRIMARY KEY (log_id, height),
	UNIQUE (log_id, tree_size)
);
`})
}

// LedgerStorage returns the ledger.Storage of the log logID in this store.
func (s *Store) LedgerStorage(logID string) ledger.Storage {
	return &ledgerStorage{s: s, log: logID}
}

type ledgerStorage struct {
	s   *Store
	log string
}

var _ ledger.Storage = (*ledgerStorage)(nil)

func ledgerErr(op string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("ledger store: %s: %w: %v", op, ledger.ErrUnavailable, err)
}

// rowsPerInsert bounds a multi-row INSERT (SQLite allows 32766 parameters).
const rowsPerInsert = 500

// nodesPerSelect bounds the terms of one node lookup (SQLite allows 500 compound SELECTs).
const nodesPerSelect = 250

func (l *ledgerStorage) AppendLeaves(ctx context.Context, start uint64, leaves [][]byte, nodes []ledger.Node) error {
	if len(leaves) == 0 {
		if len(nodes) != 0 {
			return fmt.Errorf("%w: nodes without leaves", ledger.ErrInvalid)
		}
		return nil
	}
	return l.appendLeaves(ctx, start, leaves, nodes, nil)
}

// appendLeaves writes one batch (with the audit intents it drains, if any).
func (l *ledgerStorage) appendLeaves(ctx context.Context, start uint64, leaves [][]byte, nodes []ledger.Node, intents []uint64) error {
	err := l.appendTx(ctx, start, leaves, nodes, intents)
	if err == nil {
		// The audit index (C4) follows the leaves in its own, larger transactions.
		l.s.indexer(l.log).kick()
	}
	return err
}

// appendTx writes one batch in one transaction: the size moves forward, the leaves go into
// entry bundles and the nodes into hash tiles (ledger_tiles.go). intents, if set, are the
// audit intents the leaves record (see AppendIntentLeaves).
func (l *ledgerStorage) appendTx(ctx context.Context, start uint64, leaves [][]byte, nodes []ledger.Node, intents []uint64) error {
	tx, err := l.s.db.BeginTx(ctx, nil)
	if err != nil {
		return ledgerErr("begin append", err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	// Claim the range [start, start+n) by moving the size forward only from start: two
	// writers (replicas) appending at the same size cannot both succeed.
	if _, err := tx.ExecContext(ctx, `INSERT INTO ledger_logs (log_id, size) VALUES ($1, 0) ON CONFLICT (log_id) DO NOTHING`, l.log); err != nil {
		return ledgerErr("append", err)
	}
	res, err := tx.ExecContext(ctx, `UPDATE ledger_logs SET size = $1 WHERE log_id = $2 AND size = $3`,
		int64(start)+int64(len(leaves)), l.log, int64(start))
	if err != nil {
		return ledgerErr("append", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return ledgerErr("append", err)
	} else if n != 1 {
		return fmt.Errorf("%w: append at %d but the log has another size", ledger.ErrConflict, start)
	}
	if err := l.markIntents(ctx, tx, start, intents); err != nil {
		return err
	}
	if err := l.s.writeTiles(ctx, tx, l.log, start, leaves, nodes); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return ledgerErr("commit append", err)
	}
	return nil
}

type querier interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

func (l *ledgerStorage) Size(ctx context.Context) (uint64, error) {
	var n int64
	err := l.s.queryRow(ctx, `SELECT size FROM ledger_logs WHERE log_id = $1`, l.log).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, ledgerErr("size", err)
	}
	return uint64(n), nil
}

func (l *ledgerStorage) ReadLeaves(ctx context.Context, start, count uint64) ([][]byte, error) {
	if count == 0 {
		return [][]byte{}, nil
	}
	size, err := l.Size(ctx)
	if err != nil {
		return nil, err
	}
	if start+count > size || start+count < start {
		return nil, fmt.Errorf("%w: leaves [%d, %d) beyond size %d", ledger.ErrNotFound, start, start+count, size)
	}
	return l.s.readLeaves(ctx, l.s.db, l.log, start, count)
}

func (l *ledgerStorage) ReadNodes(ctx context.Context, ids []ledger.NodeID) ([][]byte, error) {
	return l.s.readNodes(ctx, l.s.db, l.log, ids)
}

// ReadTile implements tiles.Storage: a hash tile is a row (or the fragments of a
// partial one) of ledger_tiles.
func (l *ledgerStorage) ReadTile(ctx context.Context, treeLevel uint8, index uint64, width int) ([]byte, error) {
	return l.s.readTile(ctx, l.s.db, l.log, treeLevel, index, width)
}

func (l *ledgerStorage) PutHead(ctx context.Context, h ledger.SignedTreeHead) error {
	b, err := json.Marshal(h)
	if err != nil {
		return fmt.Errorf("%w: encode head: %v", ledger.ErrInvalid, err)
	}
	if _, err := l.s.exec(ctx, `INSERT INTO ledger_heads (log_id, size, head) VALUES ($1, $2, $3) ON CONFLICT (log_id, size) DO NOTHING`,
		l.log, int64(h.Size), string(b)); err != nil {
		return ledgerErr("put head", err)
	}
	got, err := l.GetHead(ctx, h.Size)
	if err != nil {
		return err
	}
	if !sameSignedHead(got, h) {
		return fmt.Errorf("%w: a different head is stored for size %d", ledger.ErrConflict, h.Size)
	}
	return nil
}

func sameSignedHead(a, b ledger.SignedTreeHead) bool {
	return ledger.SameHead(a.TreeHead, b.TreeHead) && a.Time.Equal(b.Time) && a.KeyID == b.KeyID && bytes.Equal(a.Signature, b.Signature)
}

func (l *ledgerStorage) scanHead(row *sql.Row, what string) (ledger.SignedTreeHead, error) {
	var s string
	err := row.Scan(&s)
	if errors.Is(err, sql.ErrNoRows) {
		return ledger.SignedTreeHead{}, fmt.Errorf("%w: %s", ledger.ErrNotFound, what)
	}
	if err != nil {
		return ledger.SignedTreeHead{}, ledgerErr("read head", err)
	}
	var h ledger.SignedTreeHead
	if err := json.Unmarshal([]byte(s), &h); err != nil {
		return ledger.SignedTreeHead{}, fmt.Errorf("%w: stored head does not decode: %v", ledger.ErrVerification, err)
	}
	return h, nil
}

func (l *ledgerStorage) GetHead(ctx context.Context, size uint64) (ledger.SignedTreeHead, error) {
	return l.scanHead(l.s.queryRow(ctx, `SELECT head FROM ledger_heads WHERE log_id = $1 AND size = $2`, l.log, int64(size)),
		fmt.Sprintf("no head for size %d", size))
}

func (l *ledgerStorage) LatestHead(ctx context.Context) (ledger.SignedTreeHead, error) {
	return l.scanHead(l.s.queryRow(ctx, `SELECT head FROM ledger_heads WHERE log_id = $1 ORDER BY size DESC LIMIT 1`, l.log),
		"no head signed yet")
}

func (l *ledgerStorage) PutAnchor(ctx context.Context, a ledger.Anchor) error {
	b, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("%w: encode anchor: %v", ledger.ErrInvalid, err)
	}
	tx, err := l.s.db.BeginTx(ctx, nil)
	if err != nil {
		return ledgerErr("put anchor", err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	var latest sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT max(height) FROM ledger_anchors WHERE log_id = $1`, l.log).Scan(&latest); err != nil {
		return ledgerErr("put anchor", err)
	}
	if a.Height != uint64(latest.Int64)+1 {
		return fmt.Errorf("%w: anchor height %d, next is %d", ledger.ErrConflict, a.Height, latest.Int64+1)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO ledger_anchors (log_id, height, tree_size, block) VALUES ($1, $2, $3, $4)`,
		l.log, int64(a.Height), int64(a.Head.Size), string(b)); err != nil {
		if l.s.d.IsUniqueViolation(err) {
			return fmt.Errorf("%w: height %d or tree size %d already anchored", ledger.ErrConflict, a.Height, a.Head.Size)
		}
		return ledgerErr("put anchor", err)
	}
	if err := tx.Commit(); err != nil {
		if l.s.d.IsUniqueViolation(err) {
			return fmt.Errorf("%w: height %d already anchored", ledger.ErrConflict, a.Height)
		}
		return ledgerErr("put anchor", err)
	}
	return nil
}

func (l *ledgerStorage) scanAnchor(row *sql.Row, what string) (ledger.Anchor, error) {
	var s string
	err := row.Scan(&s)
	if errors.Is(err, sql.ErrNoRows) {
		return ledger.Anchor{}, fmt.Errorf("%w: %s", ledger.ErrNotFound, what)
	}
	if err != nil {
		return ledger.Anchor{}, ledgerErr("read anchor", err)
	}
	var a ledger.Anchor
	if err := json.Unmarshal([]byte(s), &a); err != nil {
		return ledger.Anchor{}, fmt.Errorf("%w: stored anchor does not decode: %v", ledger.ErrVerification, err)
	}
	return a, nil
}

func (l *ledgerStorage) GetAnchor(ctx context.Context, height uint64) (ledger.Anchor, error) {
	return l.scanAnchor(l.s.queryRow(ctx, `SELECT block FROM ledger_anchors WHERE log_id = $1 AND height = $2`, l.log, int64(height)),
		fmt.Sprintf("no anchor at height %d", height))
}

func (l *ledgerStorage) AnchorBySize(ctx context.Context, treeSize uint64) (ledger.Anchor, error) {
	return l.scanAnchor(l.s.queryRow(ctx, `SELECT block FROM ledger_anchors WHERE log_id = $1 AND tree_size = $2`, l.log, int64(treeSize)),
		fmt.Sprintf("no anchor of tree size %d", treeSize))
}

func (l *ledgerStorage) LatestAnchor(ctx context.Context) (ledger.Anchor, error) {
	return l.scanAnchor(l.s.queryRow(ctx, `SELECT block FROM ledger_anchors WHERE log_id = $1 ORDER BY height DESC LIMIT 1`, l.log),
		"no anchor yet")
}
