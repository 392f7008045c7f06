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
	// The audit index (C4): one row per leaf, decoded from the leaf (since migration 12 by
	// the indexer that follows the log, see audit_indexer.go). Times are Unix nanoseconds
	// (UTC); subject is the hex keyed hash ("" none).
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

// insertIndex writes the index rows of leaves [start, start+len) inside tx. Rows already
// present are left alone (another process's indexer got there first: same leaf, same row).
func (s *Store) insertIndex(ctx context.Context, tx *sql.Tx, log string, start uint64, leaves [][]byte) error {
	for i := 0; i < len(leaves); i += rowsPerInsert {
		chunk := leaves[i:min(i+rowsPerInsert, len(leaves))]
		q, args := s.multiInsert(`INSERT INTO audit_index (log_id, idx, kind, time_ns, department, resource, subject, matter, case_number, outcome, reason_code)`,
			len(chunk), indexColumns+2, func(j int) []any {
				return append([]any{log, int64(start) + int64(i+j)}, indexRow(chunk[j])...)
			})
		if _, err := tx.ExecContext(ctx, q+` ON CONFLICT (log_id, idx) DO NOTHING`, args...); err != nil {
			return err
		}
	}
	return nil
}

// Backfill implements store.AuditIndex: it brings the index up to the stored log.
func (a *auditIndex) Backfill(ctx context.Context) (int, error) {
	return a.s.indexer(a.log).catchUp(ctx)
}

// Indexed implements store.AuditIndex.
func (a *auditIndex) Indexed(ctx context.Context) (uint64, error) {
	if _, err := a.Backfill(ctx); err != nil {
		return 0, err
	}
	next, err := a.s.indexWatermark(ctx, a.log)
	if err != nil {
		return 0, ledgerErr("read the audit index watermark", err)
	}
	return uint64(next), nil
}

// MaxAuditPage bounds one Search page.
const MaxAuditPage = 1000

func (a *auditIndex) Search(ctx context.Context, q store.AuditQuery, start uint64, limit int) ([]store.AuditEntry, error) {
	if limit < 1 || limit > MaxAuditPage {
		return nil, fmt.Errorf("%w: audit search limit %d: use 1..%d", ledger.ErrInvalid, limit, MaxAuditPage)
	}
	if _, err := a.Backfill(ctx); err != nil {
		return nil, err
	}
	var sb strings.Builder
	sb.WriteString(`SELECT a.idx FROM audit_index a WHERE a.log_id = $1 AND a.idx >= $2`)
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
	rows, err := a.s.queryRaw(ctx, sb.String(), args...) // built per call: not cached
	if err != nil {
		return nil, ledgerErr("search audit index", err)
	}
	var idxs []uint64
	for rows.Next() {
		var idx int64
		if err := rows.Scan(&idx); err != nil {
			rows.Close()
			return nil, ledgerErr("search audit index", err)
		}
		idxs = append(idxs, uint64(idx))
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return nil, ledgerErr("search audit index", err)
	}
	// The leaves, from the bundles that hold them (one query).
	leaves, err := a.s.readLeavesAt(ctx, a.s.db, a.log, idxs)
	if err != nil {
		return nil, err
	}
	out := make([]store.AuditEntry, len(idxs))
	for i, idx := range idxs {
		e := &out[i]
		e.Index, e.Leaf = idx, leaves[i]
		if err := e.Record.UnmarshalBinary(e.Leaf); err != nil {
			e.Record, e.Undecodable = ledger.Record{}, true
		}
	}
	return out, nil
}

const nsPerHour = int64(time.Hour)

func (a *auditIndex) HourlyCounts(ctx context.Context, kind ledger.Kind, from, to time.Time) ([]store.HourCount, error) {
	if !from.Before(to) {
		return nil, fmt.Errorf("%w: hourly counts from %s to %s: from must be before to", ledger.ErrInvalid, from, to)
	}
	if _, err := a.Backfill(ctx); err != nil {
		return nil, err
	}
	// Integer division floors for non-negative times; audit times before 1970 are not
	// expected (records of events in the hub's lifetime).
	rows, err := a.s.query(ctx, fmt.Sprintf(`SELECT department, time_ns / %d AS h, count(*) FROM audit_index
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

func (a *auditIndex) CaseSubjects(ctx context.Context, kind ledger.Kind, from, to time.Time, min int) ([]store.CaseSubjectCount, error) {
	if !from.Before(to) || min < 1 {
		return nil, fmt.Errorf("%w: case subjects from %s to %s, at least %d: from must be before to and the minimum positive", ledger.ErrInvalid, from, to, min)
	}
	if _, err := a.Backfill(ctx); err != nil {
		return nil, err
	}
	rows, err := a.s.query(ctx, `SELECT case_number, department, count(DISTINCT subject), count(*) FROM audit_index
WHERE log_id = $1 AND kind = $2 AND time_ns >= $3 AND time_ns < $4 AND case_number <> '' AND subject <> ''
GROUP BY case_number, department HAVING count(DISTINCT subject) >= $5 ORDER BY case_number, department`,
		a.log, string(kind), from.UnixNano(), to.UnixNano(), min)
	if err != nil {
		return nil, ledgerErr("count subjects per case", err)
	}
	defer rows.Close()
	var out []store.CaseSubjectCount
	for rows.Next() {
		var c store.CaseSubjectCount
		if err := rows.Scan(&c.Case, &c.Department, &c.Subjects, &c.Records); err != nil {
			return nil, ledgerErr("count subjects per case", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, ledgerErr("count subjects per case", err)
	}
	return out, nil
}
