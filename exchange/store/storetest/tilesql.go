package storetest

import (
	"context"
	"database/sql"
	"testing"

	"github.com/gxhub/gxhub/exchange/store/sqlstore"
)

// What an insider with the database could do to the audit log in its bundles and tiles
// (sqlstore/ledger_tiles.go), for the tests that check such edits are caught. q is a
// *sql.DB or *sql.Tx; every statement uses $N placeholders (both engines take them).

type sqlExec interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
}

// AuditLeavesSQL returns every stored leaf of logID by index.
func AuditLeavesSQL(t testing.TB, q sqlExec, logID string) map[uint64][]byte {
	t.Helper()
	rows, err := q.QueryContext(context.Background(), `SELECT bundle, pos, entries FROM ledger_bundles WHERE log_id = $1 ORDER BY bundle, pos`, logID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[uint64][]byte{}
	for rows.Next() {
		var bundle int64
		var pos int
		var b []byte
		if err := rows.Scan(&bundle, &pos, &b); err != nil {
			t.Fatal(err)
		}
		es, err := sqlstore.DecodeEntries(b)
		if err != nil {
			t.Fatal(err)
		}
		for k, e := range es {
			out[uint64(bundle)*256+uint64(pos+k)] = e
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

type fragmentRow struct {
	level      int // -1 for a bundle
	tile       int64
	pos        int
	data       []byte
	firstIndex uint64
	entries    [][]byte
}

func readFragments(t testing.TB, q sqlExec, logID string) []fragmentRow {
	t.Helper()
	ctx := context.Background()
	var out []fragmentRow
	rows, err := q.QueryContext(ctx, `SELECT bundle, pos, entries FROM ledger_bundles WHERE log_id = $1`, logID)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		f := fragmentRow{level: -1}
		if err := rows.Scan(&f.tile, &f.pos, &f.data); err != nil {
			t.Fatal(err)
		}
		if f.entries, err = sqlstore.DecodeEntries(f.data); err != nil {
			t.Fatal(err)
		}
		f.firstIndex = uint64(f.tile)*256 + uint64(f.pos)
		out = append(out, f)
	}
	rows.Close()
	rows, err = q.QueryContext(ctx, `SELECT level, tile, pos, hashes FROM ledger_tiles WHERE log_id = $1`, logID)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var f fragmentRow
		if err := rows.Scan(&f.level, &f.tile, &f.pos, &f.data); err != nil {
			t.Fatal(err)
		}
		f.firstIndex = uint64(f.tile)*256 + uint64(f.pos)
		out = append(out, f)
	}
	rows.Close()
	return out
}

func (f fragmentRow) set(t testing.TB, q sqlExec, logID string, data []byte) {
	t.Helper()
	var err error
	switch {
	case f.level < 0 && data == nil:
		_, err = q.ExecContext(context.Background(), `DELETE FROM ledger_bundles WHERE log_id = $1 AND bundle = $2 AND pos = $3`, logID, f.tile, f.pos)
	case f.level < 0:
		_, err = q.ExecContext(context.Background(), `UPDATE ledger_bundles SET entries = $1 WHERE log_id = $2 AND bundle = $3 AND pos = $4`, data, logID, f.tile, f.pos)
	case data == nil:
		_, err = q.ExecContext(context.Background(), `DELETE FROM ledger_tiles WHERE log_id = $1 AND level = $2 AND tile = $3 AND pos = $4`, logID, f.level, f.tile, f.pos)
	default:
		_, err = q.ExecContext(context.Background(), `UPDATE ledger_tiles SET hashes = $1 WHERE log_id = $2 AND level = $3 AND tile = $4 AND pos = $5`, data, logID, f.level, f.tile, f.pos)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// RewriteAuditLeafSQL replaces the stored leaf at index, and with leafHash also its
// level-0 node hash.
func RewriteAuditLeafSQL(t testing.TB, q sqlExec, logID string, index uint64, leaf, leafHash []byte) {
	t.Helper()
	done := false
	for _, f := range readFragments(t, q, logID) {
		switch {
		case f.level < 0 && index >= f.firstIndex && index < f.firstIndex+uint64(len(f.entries)):
			f.entries[index-f.firstIndex] = leaf
			f.set(t, q, logID, sqlstore.EncodeEntries(f.entries))
			done = true
		case f.level == 0 && leafHash != nil && index >= f.firstIndex && index < f.firstIndex+uint64(len(f.data)/32):
			at := (index - f.firstIndex) * 32
			copy(f.data[at:at+32], leafHash)
			f.set(t, q, logID, f.data)
		}
	}
	if !done {
		t.Fatalf("no stored leaf %d", index)
	}
}

// TruncateAuditLogSQL deletes the leaves from m on and every node that covers one of
// them, and sets the log's size to m: a consistent, smaller log.
func TruncateAuditLogSQL(t testing.TB, q sqlExec, logID string, m uint64) {
	t.Helper()
	for _, f := range readFragments(t, q, logID) {
		keep, n := m, uint64(len(f.entries))
		if f.level >= 0 {
			keep, n = m>>f.level, uint64(len(f.data)/32)
		}
		switch {
		case f.firstIndex >= keep:
			f.set(t, q, logID, nil)
		case f.firstIndex+n > keep && f.level < 0:
			f.set(t, q, logID, sqlstore.EncodeEntries(f.entries[:keep-f.firstIndex]))
		case f.firstIndex+n > keep:
			f.set(t, q, logID, f.data[:(keep-f.firstIndex)*32])
		}
	}
	if _, err := q.ExecContext(context.Background(), `UPDATE ledger_logs SET size = $1 WHERE log_id = $2`, int64(m), logID); err != nil {
		t.Fatal(err)
	}
}
