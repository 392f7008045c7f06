package sqlstore

import (
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/gxhub/gxhub/exchange/store"
	"github.com/gxhub/gxhub/ledger"
)

func init() {
	// The audit index (C4): one row per leaf, decoded from the leaf in the transaction that
	// appends it. Times are Unix nanoseconds (UTC); subject is the hex keyed hash ("" none).
	register(migration{11, "audit index: queryable columns of every audit record", `
CREATE TABLE audit_index (
	log_id      TEXT NOT NULL,
	idx         {{int64}} NOT NULL,
	kind        TEXT NOT NULL,
	time_ns     {{int64}} NOT NULL,
	department  TEXT NOT NULL,
	resource    TEXT NOT NULL,
	subject     TEXT NOT NULL,
	matter      TEXT NOT NULL,
	case_number TEXT NOT NULL,
	outcome     TEXT NOT NULL,
	reason_code TEXT NOT NULL,
	PRIMARY KEY (log_id, idx)
);
CREATE INDEX audit_index_subject ON audit_index (log_id, subject, idx);
CREATE INDEX audit_index_department ON audit_index (log_id, department, time_ns);
CREATE INDEX audit_index_resource ON audit_index (log_id, resource, idx);
CREATE INDEX audit_index_case ON audit_index (log_id, case_number, idx);
CREATE INDEX audit_index_matter ON audit_index (log_id, matter, idx);
CREATE INDEX audit_index_kind ON audit_index (log_id, kind, outcome, time_ns);
CREATE INDEX audit_index_time ON audit_index (log_id, time_ns);
`})
}

// AuditIndex returns the queryable index of the audit log logID (see store.AuditIndex).
func (s *Store) AuditIndex(logID string) store.AuditIndex { return &auditIndex{s: s, log: logID} }

type auditIndex struct {
	s   *Store
	log string
}

var _ store.AuditIndex = (*auditIndex)(nil)

// indexColumns are the columns of one audit_index row after log_id and idx.
const indexColumns = 9

// indexRow decodes a leaf into its index columns. A leaf that is not a record (only in
// storage conformance tests) gets an all-empty row, so that it counts as indexed.
func indexRow(leaf []byte) []any {
	var r ledger.Record
	if err := r.UnmarshalBinary(leaf); err != nil {
		return []any{"", int64(0), "", "", "", "", "", "", ""}
	}
	subject := ""
	if !r.Subject.IsZero() {
		subject = hex.EncodeToString(r.Subject[:])
	}
	return []any{string(r.Kind), r.Time.UnixNano(), r.Department, r.Resource, subject, r.Matter, r.Case,
		string(r.Outcome), store.ReasonCode(r.Reason)}
}

// insertIndex writes the index rows of leaves [start, start+len) inside tx. With
// ignoreExisting, rows already present are left alone (backfill racing an append).
func insertIndex(ctx context.Context, tx *sql.Tx, log string, start uint64, leaves [][]byte, ignoreExisting bool) error {
	per := rowsPerInsert
	for i := 0; i < len(leaves); i += per {
		end := min(i+per, len(leaves))
		var q strings.Builder
		q.WriteString(`INSERT INTO audit_index (log_id, idx, kind, time_ns, department, resource, subject, matter, case_number, outcome, reason_code) VALUES `)
		args := make([]any, 0, (indexColumns+2)*(end-i))
		for j := i; j < end; j++ {
			if j > i {
				q.WriteByte(',')
			}
			q.WriteByte('(')
			for c := range indexColumns + 2 {
				if c > 0 {
					q.WriteByte(',')
				}
				fmt.Fprintf(&q, "$%d", len(args)+c+1)
			}
			q.WriteByte(')')
			args = append(args, log, int64(start)+int64(j))
			args = append(args, indexRow(leaves[j])...)
		}
		if ignoreExisting {
			q.WriteString(` ON CONFLICT (log_id, idx) DO NOTHING`)
		}
		if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
			return err // the caller maps it (a unique violation is a conflict on append)
		}
	}
	return nil
}

// backfillBatch is how many unindexed leaves one backfill transaction indexes.
const backfillBatch = 2000

func (a *auditIndex) Backfill(ctx context.Context) (int, error) {
	total := 0
	for {
		rows, err := a.s.db.QueryContext(ctx, `SELECT l.idx, l.leaf FROM ledger_leaves l
WHERE l.log_id = $1 AND NOT EXISTS (SELECT 1 FROM audit_index a WHERE a.log_id = l.log_id AND a.idx = l.idx)
ORDER BY l.idx LIMIT $2`, a.log, backfillBatch)
		if err != nil {
			return total, ledgerErr("backfill audit index", err)
		}
		type leaf struct {
			idx  int64
			leaf []byte
		}
		var batch []leaf
		for rows.Next() {
			var l leaf
			if err := rows.Scan(&l.idx, &l.leaf); err != nil {
				rows.Close()
				return total, ledgerErr("backfill audit index", err)
			}
			batch = append(batch, l)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return total, ledgerErr("backfill audit index", err)
		}
		if len(batch) == 0 {
			return total, nil
		}
		tx, err := a.s.db.BeginTx(ctx, nil)
		if err != nil {
			return total, ledgerErr("backfill audit index", err)
		}
		// Leaves are not contiguous in general (some may be indexed): one row at a time
		// through the same multi-row writer.
		for _, l := range batch {
			if err := insertIndex(ctx, tx, a.log, uint64(l.idx), [][]byte{l.leaf}, true); err != nil {
				tx.Rollback() //nolint:errcheck // the error reported is the insert's
				return total, ledgerErr("backfill audit index", err)
			}
		}
		if err := tx.Commit(); err != nil {
			return total, ledgerErr("backfill audit index", err)
		}
		total += len(batch)
		if len(batch) < backfillBatch {
			return total, nil
		}
	}
}

func (a *auditIndex) Indexed(ctx context.Context) (uint64, error) {
	var n int64
	if err := a.s.db.QueryRowContext(ctx, `SELECT count(*) FROM audit_index WHERE log_id = $1`, a.log).Scan(&n); err != nil {
		return 0, ledgerErr("count audit index", err)
	}
	return uint64(n), nil
}

// MaxAuditPage bounds one Search page.
const MaxAuditPage = 1000

func (a *auditIndex) Search(ctx context.Context, q store.AuditQuery, start uint64, limit int) ([]store.AuditEntry, error) {
	if limit < 1 || limit > MaxAuditPage {
		return nil, fmt.Errorf("%w: audit search limit %d: use 1..%d", ledger.ErrInvalid, limit, MaxAuditPage)
	}
	var sb strings.Builder
	sb.WriteString(`SELECT a.idx, l.leaf FROM audit_index a JOIN ledger_leaves l ON l.log_id = a.log_id AND l.idx = a.idx WHERE a.log_id = $1 AND a.idx >= $2`)
	args := []any{a.log, int64(start)}
	eq := func(col, v string) {
		if v != "" {
			args = append(args, v)
			fmt.Fprintf(&sb, " AND a.%s = $%d", col, len(args))
		}
	}
	if !q.Subject.IsZero() {
		eq("subject", hex.EncodeToString(q.Subject[:]))
	}
	eq("department", q.Department)
	eq("resource", q.Resource)
	eq("case_number", q.Case)
	eq("matter", q.Matter)
	eq("kind", string(q.Kind))
	eq("outcome", string(q.Outcome))
	eq("reason_code", q.ReasonCode)
	if q.WithoutCase {
		sb.WriteString(" AND a.case_number = ''")
	}
	if !q.From.IsZero() {
		args = append(args, q.From.UnixNano())
		fmt.Fprintf(&sb, " AND a.time_ns >= $%d", len(args))
	}
	if !q.To.IsZero() {
		args = append(args, q.To.UnixNano())
		fmt.Fprintf(&sb, " AND a.time_ns < $%d", len(args))
	}
	args = append(args, limit)
	fmt.Fprintf(&sb, " ORDER BY a.idx LIMIT $%d", len(args))
	rows, err := a.s.db.QueryContext(ctx, sb.String(), args...)
	if err != nil {
		return nil, ledgerErr("search audit index", err)
	}
	defer rows.Close()
	var out []store.AuditEntry
	for rows.Next() {
		var e store.AuditEntry
		var idx int64
		if err := rows.Scan(&idx, &e.Leaf); err != nil {
			return nil, ledgerErr("search audit index", err)
		}
		e.Index = uint64(idx)
		if err := e.Record.UnmarshalBinary(e.Leaf); err != nil {
			e.Record, e.Undecodable = ledger.Record{}, true
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, ledgerErr("search audit index", err)
	}
	return out, nil
}

const nsPerHour = int64(time.Hour)

func (a *auditIndex) HourlyCounts(ctx context.Context, kind ledger.Kind, from, to time.Time) ([]store.HourCount, error) {
	if !from.Before(to) {
		return nil, fmt.Errorf("%w: hourly counts from %s to %s: from must be before to", ledger.ErrInvalid, from, to)
	}
	// Integer division floors for non-negative times; audit times before 1970 are not
	// expected (records of events in the hub's lifetime).
	rows, err := a.s.db.QueryContext(ctx, fmt.Sprintf(`SELECT department, time_ns / %d AS h, count(*) FROM audit_index
WHERE log_id = $1 AND kind = $2 AND time_ns >= $3 AND time_ns < $4 GROUP BY department, time_ns / %d ORDER BY department, h`, nsPerHour, nsPerHour),
		a.log, string(kind), from.UnixNano(), to.UnixNano())
	if err != nil {
		return nil, ledgerErr("count audit records per hour", err)
	}
	defer rows.Close()
	var out []store.HourCount
	for rows.Next() {
		var c store.HourCount
		var h int64
		if err := rows.Scan(&c.Department, &h, &c.Count); err != nil {
			return nil, ledgerErr("count audit records per hour", err)
		}
		c.Hour = time.Unix(0, h*nsPerHour).UTC()
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, ledgerErr("count audit records per hour", err)
	}
	return out, nil
}
