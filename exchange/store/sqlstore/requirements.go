package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/store"
)

func init() {
	register(migration{31, "requirement update cycle and provision method", `
ALTER TABLE requirements ADD COLUMN update_cycle TEXT NOT NULL DEFAULT '';
ALTER TABLE requirements ADD COLUMN provision_method TEXT NOT NULL DEFAULT ''
`})
	register(migration{30, "requirements and decisions", `
CREATE TABLE requirements (
	id           TEXT PRIMARY KEY,
	consumer     TEXT NOT NULL,
	provider     TEXT NOT NULL,
	resource     TEXT NOT NULL,
	items        TEXT NOT NULL,
	matter_codes TEXT NOT NULL,
	legal_duty   TEXT NOT NULL,
	scope_region TEXT NOT NULL,
	state        TEXT NOT NULL,
	deadline     {{int64}} NOT NULL,
	decisions    INTEGER NOT NULL,
	created_at   {{int64}} NOT NULL,
	updated_at   {{int64}} NOT NULL
);
CREATE INDEX requirements_consumer ON requirements (consumer, id);
CREATE INDEX requirements_provider ON requirements (provider, id);
CREATE INDEX requirements_resource ON requirements (resource, id);
CREATE INDEX requirements_due ON requirements (state, deadline);
CREATE TABLE requirement_decisions (
	requirement TEXT NOT NULL,
	seq         INTEGER NOT NULL,
	action      TEXT NOT NULL,
	by_dept     TEXT NOT NULL,
	legal_basis TEXT NOT NULL,
	comment     TEXT NOT NULL,
	at          {{int64}} NOT NULL,
	evidence    TEXT NOT NULL,
	body_digest TEXT NOT NULL,
	PRIMARY KEY (requirement, seq)
);
`})
}

type requirements struct{ s *Store }

// Requirements implements store.Store.
func (s *Store) Requirements() store.Requirements { return requirements{s} }

const reqColumns = `id, consumer, provider, resource, items, matter_codes, legal_duty, scope_region, state, deadline, decisions, created_at, updated_at, update_cycle, provision_method, deadline_days, deadline_provisional, verify_only, clear_text`

// joinList stores a list of codes or names (none contains a newline: both are validated).
func joinList(l []string) string { return strings.Join(l, "\n") }

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func micro(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromMicro(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMicro(v).UTC()
}

func requirementNotFound(id string) error {
	return exchange.Errorf(exchange.KindNotFound, "REQUIREMENT_NOT_FOUND", "no requirement with id %q", id)
}

func insertDecision(ctx context.Context, tx *txn, id string, d exchange.Decision) error {
	basis, err := encodeBasis(d.LegalBasis)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO requirement_decisions (requirement, seq, action, by_dept, legal_basis, comment, at, evidence, body_digest)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, id, d.Seq, string(d.Action), d.By, basis, d.Comment, micro(d.At), d.Evidence, d.BodyDigest)
	return err
}

// encodeBasis stores a legal basis as JSON ("" when there is none).
func encodeBasis(b exchange.LegalBasis) (string, error) {
	if b.IsZero() {
		return "", nil
	}
	j, err := json.Marshal(b)
	return string(j), err
}

// decodeBasis reads what encodeBasis stored; text stored before legal bases were
// structured comes back as a basis without kind (readable, never valid).
func decodeBasis(s string) exchange.LegalBasis {
	var b exchange.LegalBasis
	if s == "" {
		return b
	}
	if strings.HasPrefix(s, "{") && json.Unmarshal([]byte(s), &b) == nil {
		return b
	}
	return exchange.LegalBasis{Title: s}
}

// appendNotice appends a system notice to a requirement's history inside tx, leaving its
// state as it is; a requirement that no longer exists is skipped.
func appendNotice(ctx context.Context, tx *txn, id, comment string, at time.Time) error {
	var seq int
	err := tx.QueryRowContext(ctx, `UPDATE requirements SET decisions = decisions + 1, updated_at = $1 WHERE id = $2 RETURNING decisions`,
		micro(at), id).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return unavailable("append requirement notice", err)
	}
	if err := insertDecision(ctx, tx, id, exchange.Decision{Seq: seq, Action: exchange.ActCatalogNotice, By: exchange.SystemActor, Comment: comment, At: at}); err != nil {
		return unavailable("append requirement notice", err)
	}
	return nil
}

func (q requirements) Create(ctx context.Context, r *exchange.Requirement) error {
	for i, d := range r.Decisions {
		if d.Seq != i+1 {
			return exchange.Errorf(exchange.KindInvalid, "DECISION_SEQ_INVALID", "decision %d of requirement %s has seq %d: decisions are numbered from 1", i+1, r.ID, d.Seq)
		}
	}
	exists := func() error {
		return exchange.Errorf(exchange.KindAlreadyExists, "REQUIREMENT_EXISTS", "requirement %s already exists", r.ID)
	}
	tx, err := q.s.begin(ctx, nil)
	if err != nil {
		return unavailable("create requirement", err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	clear, err := encodeClearText(r.ClearText)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO requirements (`+reqColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)`,
		r.ID, r.Consumer, r.Provider, r.Resource, joinList(r.Items), joinList(r.MatterCodes), r.LegalDuty, r.ScopeRegion,
		string(r.State), micro(r.Deadline), len(r.Decisions), micro(r.CreatedAt), micro(r.UpdatedAt),
		string(r.UpdateCycle), string(r.ProvisionMethod), r.DeadlineDays, bool01(r.DeadlineProvisional), bool01(r.VerifyOnly), clear); err != nil {
		if q.s.d.IsUniqueViolation(err) {
			return exists()
		}
		return unavailable("create requirement", err)
	}
	for _, d := range r.Decisions {
		if err := insertDecision(ctx, tx, r.ID, d); err != nil {
			return unavailable("create requirement", err)
		}
	}
	if err := tx.Commit(); err != nil {
		if q.s.d.IsUniqueViolation(err) {
			return exists()
		}
		return unavailable("create requirement", err)
	}
	return nil
}

func scanRequirement(row interface{ Scan(...any) error }) (*exchange.Requirement, int, error) {
	var (
		r                          exchange.Requirement
		items, matters, state      string
		cycle, provision           string
		deadline, created, updated int64
		n, provisional, verifyOnly int
		clear                      string
	)
	if err := row.Scan(&r.ID, &r.Consumer, &r.Provider, &r.Resource, &items, &matters, &r.LegalDuty, &r.ScopeRegion,
		&state, &deadline, &n, &created, &updated, &cycle, &provision, &r.DeadlineDays, &provisional, &verifyOnly, &clear); err != nil {
		return nil, 0, err
	}
	r.VerifyOnly, r.ClearText = verifyOnly != 0, decodeClearText(clear)
	r.DeadlineProvisional = provisional != 0
	r.Items, r.MatterCodes, r.State = splitList(items), splitList(matters), exchange.RequirementState(state)
	r.UpdateCycle, r.ProvisionMethod = exchange.UpdateCycle(cycle), exchange.ProvisionMethod(provision)
	r.Deadline, r.CreatedAt, r.UpdatedAt = fromMicro(deadline), fromMicro(created), fromMicro(updated)
	return &r, n, nil
}

// reqGetColumns are reqColumns qualified for the join with the decisions in Get.
var reqGetColumns = "r." + strings.ReplaceAll(reqColumns, ", ", ", r.")

// Get reads the requirement and its decisions in one query (a pull reads it every time).
func (q requirements) Get(ctx context.Context, id string) (*exchange.Requirement, error) {
	rows, err := q.s.query(ctx, `SELECT `+reqGetColumns+`, d.seq, d.action, d.by_dept, d.legal_basis, d.comment, d.at, d.evidence, d.body_digest
FROM requirements r LEFT JOIN requirement_decisions d ON d.requirement = r.id WHERE r.id = $1 ORDER BY d.seq`, id)
	if err != nil {
		return nil, unavailable("get requirement", err)
	}
	defer rows.Close()
	var r *exchange.Requirement
	for rows.Next() {
		var (
			seq                                              sql.NullInt64
			action, by, basis, comment, evidence, bodyDigest sql.NullString
			at                                               sql.NullInt64
		)
		got, _, err := scanRequirement(scanPrefix{rows, []any{&seq, &action, &by, &basis, &comment, &at, &evidence, &bodyDigest}})
		if err != nil {
			return nil, unavailable("get requirement", err)
		}
		if r == nil {
			r = got
		}
		if seq.Valid {
			r.Decisions = append(r.Decisions, exchange.Decision{Seq: int(seq.Int64), Action: exchange.DecisionAction(action.String),
				By: by.String, LegalBasis: decodeBasis(basis.String), Comment: comment.String, At: fromMicro(at.Int64),
				Evidence: evidence.String, BodyDigest: bodyDigest.String})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("get requirement", err)
	}
	if r == nil {
		return nil, requirementNotFound(id)
	}
	return r, nil
}

// scanPrefix scans a row whose first columns go to the destinations its caller passes and
// whose remaining columns go to rest.
type scanPrefix struct {
	row  interface{ Scan(...any) error }
	rest []any
}

func (p scanPrefix) Scan(dest ...any) error { return p.row.Scan(append(dest, p.rest...)...) }

func (q requirements) Decide(ctx context.Context, r *exchange.Requirement, from exchange.RequirementState, d exchange.Decision) error {
	changed := func() error {
		return exchange.Errorf(exchange.KindFailedPrecondition, "REQUIREMENT_CHANGED",
			"requirement %s changed since it was read (another decision was recorded first): read it again and decide on its current state", r.ID)
	}
	if d.Seq < 1 {
		return exchange.Errorf(exchange.KindInvalid, "DECISION_SEQ_INVALID", "decision seq must be at least 1")
	}
	tx, err := q.s.begin(ctx, nil)
	if err != nil {
		return unavailable("decide requirement", err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	res, err := tx.ExecContext(ctx, `UPDATE requirements SET items = $1, matter_codes = $2, legal_duty = $3, scope_region = $4,
state = $5, deadline = $6, updated_at = $7, decisions = $8, deadline_days = $12, deadline_provisional = $13
WHERE id = $9 AND state = $10 AND decisions = $11`,
		joinList(r.Items), joinList(r.MatterCodes), r.LegalDuty, r.ScopeRegion, string(r.State), micro(r.Deadline), micro(r.UpdatedAt),
		d.Seq, r.ID, string(from), d.Seq-1, r.DeadlineDays, bool01(r.DeadlineProvisional))
	if err != nil {
		return unavailable("decide requirement", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return unavailable("decide requirement", err)
	} else if n == 0 {
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM requirements WHERE id = $1`, r.ID).Scan(&one); errors.Is(err, sql.ErrNoRows) {
			return requirementNotFound(r.ID)
		} else if err != nil {
			return unavailable("decide requirement", err)
		}
		return changed()
	}
	if err := insertDecision(ctx, tx, r.ID, d); err != nil {
		if q.s.d.IsUniqueViolation(err) {
			return changed()
		}
		return unavailable("decide requirement", err)
	}
	if err := tx.Commit(); err != nil {
		if q.s.d.IsUniqueViolation(err) {
			return changed()
		}
		return unavailable("decide requirement", err)
	}
	return nil
}

func (q requirements) scanList(ctx context.Context, op, query string, args ...any) ([]*exchange.Requirement, error) {
	rows, err := q.s.queryRaw(ctx, query, args...) // built per call (List): not cached
	if err != nil {
		return nil, unavailable(op, err)
	}
	defer rows.Close()
	var out []*exchange.Requirement
	for rows.Next() {
		r, _, err := scanRequirement(rows)
		if err != nil {
			return nil, unavailable(op, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable(op, err)
	}
	return out, nil
}

func (q requirements) List(ctx context.Context, f store.RequirementFilter, after string, limit int) ([]*exchange.Requirement, error) {
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	query := `SELECT ` + reqColumns + ` FROM requirements WHERE id > $1`
	args := []any{after}
	add := func(col, v string) {
		if v != "" {
			args = append(args, v)
			query += ` AND ` + col + ` = $` + strconv.Itoa(len(args))
		}
	}
	add("consumer", f.Consumer)
	add("provider", f.Provider)
	add("resource", f.Resource)
	add("state", string(f.State))
	if f.DeadlineProvisional {
		query += ` AND deadline_provisional = 1`
	}
	args = append(args, limit)
	query += ` ORDER BY id LIMIT $` + strconv.Itoa(len(args))
	return q.scanList(ctx, "list requirements", query, args...)
}

func (q requirements) Overdue(ctx context.Context, now time.Time, limit int) ([]*exchange.Requirement, error) {
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	return q.scanList(ctx, "list overdue requirements", `SELECT `+reqColumns+` FROM requirements
WHERE state IN ($1, $2) AND deadline > 0 AND deadline <= $3 ORDER BY deadline, id LIMIT $4`,
		string(exchange.ReqUnderReview), string(exchange.ReqAwaitingProvider), now.UnixMicro(), limit)
}
