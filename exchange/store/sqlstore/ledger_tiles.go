package sqlstore

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/gxhub/gxhub/ledger"
)

// The audit log's leaves and tree nodes are stored in bundles and tiles of 256, the layout
// of C2SP tlog-tiles (as Trillian Tessera stores them), instead of one row per leaf and
// one per node:
//
//   - ledger_bundles holds the leaves: bundle N has leaves [N·256, N·256+256), as entries
//     of a 4-byte big-endian length and the leaf's bytes (C2SP entry bundles use 2 bytes;
//     a record may exceed 64 KiB).
//   - ledger_tiles holds the node hashes: tile N of tree level L has the hashes of nodes
//     (L, N·256) … (L, N·256+255), 32 bytes each. The tiles of levels 0, 8, 16, … are the
//     C2SP hash tiles the hub publishes (ledger/tiles); the levels in between are kept as
//     well (2N hashes in all, as before), so a proof reads its hashes and computes none.
//
// A batch appends to the open (partial) bundle and tiles as new rows, each a fragment
// starting at position first; the batch that fills a bundle or tile to 256 merges its
// fragments into one row. So a full bundle or tile is one row that never changes, and an
// append writes a few rows whatever its size: about one per tree level it completes a node
// at and one per 256 leaves, where it wrote one row per leaf and two per node before.
func init() {
	register(migration{165, "audit ledger in bundles and tiles of 256 (C2SP tlog-tiles layout)", `
CREATE TABLE ledger_bundles (
	log_id  TEXT NOT NULL,
	bundle  {{int64}} NOT NULL,
	pos   INTEGER NOT NULL,
	entries {{blob}} NOT NULL,
	PRIMARY KEY (log_id, bundle, pos)
);
CREATE TABLE ledger_tiles (
	log_id TEXT NOT NULL,
	level  INTEGER NOT NULL,
	tile   {{int64}} NOT NULL,
	pos  INTEGER NOT NULL,
	hashes {{blob}} NOT NULL,
	PRIMARY KEY (log_id, level, tile, pos)
);
CREATE TABLE ledger_tiles_convert (
	log_id   TEXT PRIMARY KEY,
	next_idx {{int64}} NOT NULL
)`})
	registerStep(166, "audit ledger: leaves and nodes moved into bundles and tiles, old tables dropped", convertToTiles)
}

const (
	tileBits  = 8
	tileWidth = 1 << tileBits
	hashSize  = ledger.DigestSize
)

// EncodeEntries encodes leaves as the entries of a bundle row: each a 4-byte big-endian
// length, then the leaf.
func EncodeEntries(leaves [][]byte) []byte {
	n := 0
	for _, l := range leaves {
		n += 4 + len(l)
	}
	b := make([]byte, 0, n)
	for _, l := range leaves {
		b = binary.BigEndian.AppendUint32(b, uint32(len(l)))
		b = append(b, l...)
	}
	return b
}

// DecodeEntries decodes the entries of a bundle row. The leaves share b (each capped at
// its own length).
func DecodeEntries(b []byte) ([][]byte, error) {
	var out [][]byte
	for len(b) > 0 {
		if len(b) < 4 {
			return nil, fmt.Errorf("%w: bundle entry cut short", ledger.ErrVerification)
		}
		n := binary.BigEndian.Uint32(b)
		if uint64(n) > uint64(len(b)-4) {
			return nil, fmt.Errorf("%w: bundle entry of %d bytes, %d left", ledger.ErrVerification, n, len(b)-4)
		}
		out = append(out, b[4:4+n:4+n])
		b = b[4+n:]
	}
	return out, nil
}

// fragment is one row to write: hashes of a tile (level ≥ 0) or entries of a bundle
// (level -1), starting at position first of tile.
type fragment struct {
	level int
	tile  uint64
	first int
	n     int
	data  []byte
}

// writeTiles stores leaves at start and their nodes in tx. Nodes that cover only leaves
// below start exist already: they must carry the stored hash (ledger.ErrConflict
// otherwise) and are not written again.
func (s *Store) writeTiles(ctx context.Context, tx *sql.Tx, log string, start uint64, leaves [][]byte, nodes []ledger.Node) error {
	var old []ledger.Node
	fresh := make([]ledger.Node, 0, len(nodes))
	for _, n := range nodes {
		if n.ID.Level < 64 && (n.ID.Index+1)<<n.ID.Level <= start {
			old = append(old, n)
		} else {
			fresh = append(fresh, n)
		}
	}
	if len(old) > 0 {
		got, err := s.readNodes(ctx, tx, log, nodeIDs(old))
		if err != nil {
			if errors.Is(err, ledger.ErrNotFound) {
				return fmt.Errorf("%w: %v", ledger.ErrConflict, err)
			}
			return err
		}
		for i, n := range old {
			if string(got[i]) != string(n.Hash) {
				return fmt.Errorf("%w: node (%d, %d) already stored with another hash", ledger.ErrConflict, n.ID.Level, n.ID.Index)
			}
		}
	}
	slices.SortFunc(fresh, func(a, b ledger.Node) int {
		if a.ID.Level != b.ID.Level {
			return int(a.ID.Level) - int(b.ID.Level)
		}
		switch {
		case a.ID.Index < b.ID.Index:
			return -1
		case a.ID.Index > b.ID.Index:
			return 1
		}
		return 0
	})
	var frags []fragment
	for i, n := range fresh {
		if len(n.Hash) != hashSize {
			return fmt.Errorf("%w: node (%d, %d) hash of %d bytes, want %d", ledger.ErrInvalid, n.ID.Level, n.ID.Index, len(n.Hash), hashSize)
		}
		tile, pos := n.ID.Index>>tileBits, int(n.ID.Index&(tileWidth-1))
		if i == 0 || fresh[i-1].ID.Level != n.ID.Level || fresh[i-1].ID.Index+1 != n.ID.Index || pos == 0 {
			frags = append(frags, fragment{level: int(n.ID.Level), tile: tile, first: pos})
		}
		f := &frags[len(frags)-1]
		f.data = append(f.data, n.Hash...)
		f.n++
	}
	for i := 0; i < len(leaves); {
		idx := start + uint64(i)
		pos := int(idx & (tileWidth - 1))
		n := min(tileWidth-pos, len(leaves)-i)
		frags = append(frags, fragment{level: -1, tile: idx >> tileBits, first: pos, n: n, data: EncodeEntries(leaves[i : i+n])})
		i += n
	}
	// A fragment that fills its tile or bundle takes the earlier fragments in: one row.
	for i := range frags {
		if f := &frags[i]; f.first > 0 && f.first+f.n == tileWidth {
			if err := s.mergeFragments(ctx, tx, log, f); err != nil {
				return err
			}
		}
	}
	var tileRows, bundleRows []fragment
	for _, f := range frags {
		if f.level < 0 {
			bundleRows = append(bundleRows, f)
		} else {
			tileRows = append(tileRows, f)
		}
	}
	for i := 0; i < len(tileRows); i += rowsPerInsert {
		chunk := tileRows[i:min(i+rowsPerInsert, len(tileRows))]
		q, args := s.multiInsert(`INSERT INTO ledger_tiles (log_id, level, tile, pos, hashes)`, len(chunk), 5, func(j int) []any {
			f := chunk[j]
			return []any{log, f.level, int64(f.tile), f.first, f.data}
		})
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			if s.d.IsUniqueViolation(err) {
				return fmt.Errorf("%w: a node of the batch is stored already", ledger.ErrConflict)
			}
			return ledgerErr("append nodes", err)
		}
	}
	// Bundle rows are large: a few per statement.
	for i := 0; i < len(bundleRows); i += 8 {
		chunk := bundleRows[i:min(i+8, len(bundleRows))]
		q, args := s.multiInsert(`INSERT INTO ledger_bundles (log_id, bundle, pos, entries)`, len(chunk), 4, func(j int) []any {
			f := chunk[j]
			return []any{log, int64(f.tile), f.first, f.data}
		})
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			if s.d.IsUniqueViolation(err) {
				return fmt.Errorf("%w: a leaf of the batch is stored already", ledger.ErrConflict)
			}
			return ledgerErr("append leaves", err)
		}
	}
	return nil
}

// mergeFragments prepends to f (which fills its tile or bundle) the fragments stored before
// it, deletes them, and makes f the tile's one row. Stored fragments that do not cover
// [0, f.first) exactly are left alone (f is then written as a fragment of its own).
func (s *Store) mergeFragments(ctx context.Context, tx *sql.Tx, log string, f *fragment) error {
	var rows *sql.Rows
	var err error
	if f.level < 0 {
		rows, err = tx.QueryContext(ctx, `SELECT pos, entries FROM ledger_bundles WHERE log_id = $1 AND bundle = $2 AND pos < $3 ORDER BY pos`,
			log, int64(f.tile), f.first)
	} else {
		rows, err = tx.QueryContext(ctx, `SELECT pos, hashes FROM ledger_tiles WHERE log_id = $1 AND level = $2 AND tile = $3 AND pos < $4 ORDER BY pos`,
			log, f.level, int64(f.tile), f.first)
	}
	if err != nil {
		return ledgerErr("merge tile", err)
	}
	var data []byte
	next := 0
	for rows.Next() {
		var first int
		var b []byte
		if err := rows.Scan(&first, &b); err != nil {
			rows.Close()
			return ledgerErr("merge tile", err)
		}
		n := len(b) / hashSize
		if f.level < 0 {
			es, err := DecodeEntries(b)
			if err != nil {
				rows.Close()
				return err
			}
			n = len(es)
		}
		if first != next {
			next = -1
		} else if next >= 0 {
			next += n
		}
		data = append(data, b...)
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return ledgerErr("merge tile", err)
	}
	if next != f.first {
		return nil
	}
	if f.level < 0 {
		_, err = tx.ExecContext(ctx, `DELETE FROM ledger_bundles WHERE log_id = $1 AND bundle = $2 AND pos < $3`, log, int64(f.tile), f.first)
	} else {
		_, err = tx.ExecContext(ctx, `DELETE FROM ledger_tiles WHERE log_id = $1 AND level = $2 AND tile = $3 AND pos < $4`, log, f.level, int64(f.tile), f.first)
	}
	if err != nil {
		return ledgerErr("merge tile", err)
	}
	f.data = append(data, f.data...)
	f.n += f.first
	f.first = 0
	return nil
}

// readLeaves returns the leaves [start, start+count) from their bundles.
func (s *Store) readLeaves(ctx context.Context, q querier, log string, start, count uint64) ([][]byte, error) {
	out := make([][]byte, count)
	rows, err := q.QueryContext(ctx, `SELECT bundle, pos, entries FROM ledger_bundles WHERE log_id = $1 AND bundle >= $2 AND bundle <= $3 ORDER BY bundle, pos`,
		log, int64(start>>tileBits), int64((start+count-1)>>tileBits))
	if err != nil {
		return nil, ledgerErr("read leaves", err)
	}
	defer rows.Close()
	for rows.Next() {
		var bundle int64
		var first int
		var b []byte
		if err := rows.Scan(&bundle, &first, &b); err != nil {
			return nil, ledgerErr("read leaves", err)
		}
		es, err := DecodeEntries(b)
		if err != nil {
			return nil, fmt.Errorf("bundle %d: %w", bundle, err)
		}
		for k, e := range es {
			idx := uint64(bundle)<<tileBits + uint64(first+k)
			if idx >= start && idx < start+count {
				out[idx-start] = e
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, ledgerErr("read leaves", err)
	}
	for i, e := range out {
		if e == nil {
			return nil, fmt.Errorf("%w: leaf %d missing from storage", ledger.ErrNotFound, start+uint64(i))
		}
	}
	return out, nil
}

// readLeavesAt returns the leaves at the given indices (any order, repeats allowed), one
// query for all the bundles that hold them.
func (s *Store) readLeavesAt(ctx context.Context, q querier, log string, idxs []uint64) ([][]byte, error) {
	out := make([][]byte, len(idxs))
	if len(idxs) == 0 {
		return out, nil
	}
	want := map[uint64][]int{}
	var bundles []uint64
	for i, idx := range idxs {
		want[idx] = append(want[idx], i)
		if b := idx >> tileBits; !slices.Contains(bundles, b) {
			bundles = append(bundles, b)
		}
	}
	var sb strings.Builder
	sb.WriteString(`SELECT bundle, pos, entries FROM ledger_bundles WHERE log_id = $1 AND bundle IN (`)
	for i, b := range bundles {
		if i > 0 {
			sb.WriteString(", ")
		}
		fmt.Fprintf(&sb, "%d", b)
	}
	sb.WriteString(")")
	rows, err := q.QueryContext(ctx, sb.String(), log)
	if err != nil {
		return nil, ledgerErr("read leaves", err)
	}
	defer rows.Close()
	for rows.Next() {
		var bundle int64
		var first int
		var b []byte
		if err := rows.Scan(&bundle, &first, &b); err != nil {
			return nil, ledgerErr("read leaves", err)
		}
		es, err := DecodeEntries(b)
		if err != nil {
			return nil, fmt.Errorf("bundle %d: %w", bundle, err)
		}
		for k, e := range es {
			for _, p := range want[uint64(bundle)<<tileBits+uint64(first+k)] {
				out[p] = e
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, ledgerErr("read leaves", err)
	}
	for i, e := range out {
		if e == nil {
			return nil, fmt.Errorf("%w: leaf %d missing from storage", ledger.ErrNotFound, idxs[i])
		}
	}
	return out, nil
}

// readNodes returns the hashes of the given nodes, each cut out of its tile by the
// database (one primary-key range lookup per node, joined by UNION ALL).
func (s *Store) readNodes(ctx context.Context, q querier, log string, ids []ledger.NodeID) ([][]byte, error) {
	out := make([][]byte, len(ids))
	for i := 0; i < len(ids); i += nodesPerSelect {
		end := min(i+nodesPerSelect, len(ids))
		var sb strings.Builder
		var args []any
		for j := i; j < end; j++ {
			if j > i {
				sb.WriteString(" UNION ALL ")
			}
			id := ids[j]
			if id.Level >= 64 {
				return nil, fmt.Errorf("%w: node level %d", ledger.ErrNotFound, id.Level)
			}
			tile, pos := id.Index>>tileBits, id.Index&(tileWidth-1)
			fmt.Fprintf(&sb, "SELECT %d AS j, substr(hashes, (%d - pos) * %d + 1, %d) AS h FROM ledger_tiles WHERE log_id = %s AND level = %d AND tile = %d AND pos <= %d AND pos + length(hashes) / %d > %d",
				j, pos, hashSize, hashSize, s.ph(len(args)+1), id.Level, tile, pos, hashSize, pos)
			args = append(args, log)
		}
		rows, err := q.QueryContext(ctx, sb.String(), args...)
		if err != nil {
			return nil, ledgerErr("read nodes", err)
		}
		for rows.Next() {
			var j int
			var h []byte
			if err := rows.Scan(&j, &h); err != nil {
				rows.Close()
				return nil, ledgerErr("read nodes", err)
			}
			out[j] = h
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, ledgerErr("read nodes", err)
		}
	}
	for i, h := range out {
		if len(h) != hashSize {
			return nil, fmt.Errorf("%w: node (%d, %d) not stored", ledger.ErrNotFound, ids[i].Level, ids[i].Index)
		}
	}
	return out, nil
}

func nodeIDs(nodes []ledger.Node) []ledger.NodeID {
	ids := make([]ledger.NodeID, len(nodes))
	for i, n := range nodes {
		ids[i] = n.ID
	}
	return ids
}

// readTile returns the first width hashes of tile index of tree level treeLevel.
func (s *Store) readTile(ctx context.Context, q querier, log string, treeLevel uint8, index uint64, width int) ([]byte, error) {
	rows, err := q.QueryContext(ctx, `SELECT pos, hashes FROM ledger_tiles WHERE log_id = $1 AND level = $2 AND tile = $3 ORDER BY pos`,
		log, int(treeLevel), int64(index))
	if err != nil {
		return nil, ledgerErr("read tile", err)
	}
	defer rows.Close()
	var out []byte
	for rows.Next() {
		var first int
		var b []byte
		if err := rows.Scan(&first, &b); err != nil {
			return nil, ledgerErr("read tile", err)
		}
		if first*hashSize != len(out) {
			break
		}
		out = append(out, b...)
	}
	if err := rows.Err(); err != nil {
		return nil, ledgerErr("read tile", err)
	}
	if len(out) < width*hashSize {
		return nil, fmt.Errorf("%w: tile %d of level %d holds %d hashes, %d asked", ledger.ErrNotFound, index, treeLevel, len(out)/hashSize, width)
	}
	return out[:width*hashSize], nil
}

// convertChunk is how many leaves (with their nodes) one conversion transaction moves.
const convertChunk = 8192

// convertToTiles moves the next chunk of a log's leaves and nodes from the tables of
// migration 10 (one row per leaf, per node) into bundles and tiles, in tx with the log's
// conversion watermark; when every log is converted it drops the old tables and reports
// done. Open runs it until done before serving, so a half-converted log is never read,
// and a crash leaves a consistent prefix the next Open continues after.
func convertToTiles(ctx context.Context, s *Store, tx *sql.Tx) (bool, error) {
	rows, err := tx.QueryContext(ctx, `SELECT l.log_id, l.size, c.next_idx FROM ledger_logs l LEFT JOIN ledger_tiles_convert c ON c.log_id = l.log_id ORDER BY l.log_id`)
	if err != nil {
		return false, err
	}
	var log string
	var size, next int64
	found := false
	for rows.Next() {
		var id string
		var sz int64
		var nx sql.NullInt64
		if err := rows.Scan(&id, &sz, &nx); err != nil {
			rows.Close()
			return false, err
		}
		if nx.Int64 < sz && !found {
			log, size, next, found = id, sz, nx.Int64, true
		}
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return false, err
	}
	if !found {
		for _, q := range []string{`DROP TABLE ledger_leaves`, `DROP TABLE ledger_nodes`, `DROP TABLE ledger_tiles_convert`} {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return false, err
			}
		}
		return true, nil
	}
	a, b := uint64(next), uint64(min(size, next+convertChunk))
	lr, err := tx.QueryContext(ctx, `SELECT idx, leaf FROM ledger_leaves WHERE log_id = $1 AND idx >= $2 AND idx < $3 ORDER BY idx`, log, int64(a), int64(b))
	if err != nil {
		return false, err
	}
	var leaves [][]byte
	for lr.Next() {
		var idx int64
		var leaf []byte
		if err := lr.Scan(&idx, &leaf); err != nil {
			lr.Close()
			return false, err
		}
		if uint64(idx) != a+uint64(len(leaves)) {
			lr.Close()
			return false, fmt.Errorf("audit log %s: leaf %d is missing from the old table (size %d): the store is damaged; restore a backup", log, a+uint64(len(leaves)), size)
		}
		leaves = append(leaves, leaf)
	}
	err = lr.Err()
	lr.Close()
	if err != nil {
		return false, err
	}
	if uint64(len(leaves)) != b-a {
		return false, fmt.Errorf("audit log %s: %d of the leaves [%d, %d) in the old table (size %d): the store is damaged; restore a backup", log, len(leaves), a, b, size)
	}
	// The nodes completed by these leaves: (l, i) with a < (i+1)·2^l ≤ b.
	var nodes []ledger.Node
	for l := uint(0); l < 64 && b>>l > a>>l; l++ {
		nr, err := tx.QueryContext(ctx, `SELECT idx, hash FROM ledger_nodes WHERE log_id = $1 AND level = $2 AND idx >= $3 AND idx < $4 ORDER BY idx`,
			log, int(l), int64(a>>l), int64(b>>l))
		if err != nil {
			return false, err
		}
		for nr.Next() {
			var idx int64
			var h []byte
			if err := nr.Scan(&idx, &h); err != nil {
				nr.Close()
				return false, err
			}
			nodes = append(nodes, ledger.Node{ID: ledger.NodeID{Level: uint8(l), Index: uint64(idx)}, Hash: h})
		}
		err = nr.Err()
		nr.Close()
		if err != nil {
			return false, err
		}
	}
	if err := s.writeTiles(ctx, tx, log, a, leaves, nodes); err != nil {
		return false, fmt.Errorf("audit log %s: leaves [%d, %d): %w", log, a, b, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO ledger_tiles_convert (log_id, next_idx) VALUES ($1, $2) ON CONFLICT (log_id) DO UPDATE SET next_idx = excluded.next_idx`,
		log, int64(b)); err != nil {
		return false, err
	}
	return false, nil
}
