package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strconv"

	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/store"
)

func init() {
	register(migration{100, "cases (一企一事一码): status history and materials", `
CREATE TABLE cases (
	number         TEXT PRIMARY KEY,
	matter         TEXT NOT NULL,
	matter_version INTEGER NOT NULL,
	department     TEXT NOT NULL,
	applicant      TEXT NOT NULL,
	applicant_kind TEXT NOT NULL,
	parties        TEXT NOT NULL,
	region         TEXT NOT NULL,
	state          TEXT NOT NULL,
	events         INTEGER NOT NULL,
	opened_at      {{int64}} NOT NULL,
	updated_at     {{int64}} NOT NULL
);
CREATE INDEX cases_department ON cases (department, number);
CREATE INDEX cases_matter ON cases (matter, number);
CREATE INDEX cases_state ON cases (state, opened_at);
CREATE TABLE case_events (
	number      TEXT NOT NULL,
	seq         INTEGER NOT NULL,
	state       TEXT NOT NULL,
	by_dept     TEXT NOT NULL,
	comment     TEXT NOT NULL,
	at          {{int64}} NOT NULL,
	evidence    TEXT NOT NULL,
	body_digest TEXT NOT NULL,
	PRIMARY KEY (number, seq)
);
CREATE TABLE case_materials (
	number TEXT NOT NULL,
	seq    INTEGER NOT NULL,
	body   TEXT NOT NULL,
	PRIMARY KEY (number, seq)
);
`})
}

type cases struct{ s *Store }

// Cases implements store.Store.
func (s *Store) Cases() store.Cases { return cases{s} }

const caseColumns = `number, matter, matter_version, department, applicant, applicant_kind, parties, region, state, events, opened_at, updated_at`

func caseNotFound(n string) error {
	return exchange.Errorf(exchange.KindNotFound, "CASE_NOT_FOUND", "no case with number %q", n)
}

func insertCaseEvent(ctx context.Context, tx *txn, number string, e exchange.CaseEvent) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO case_events (number, seq, state, by_dept, comment, at, evidence, body_digest) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		number, e.Seq, string(e.State), e.By, e.Comment, micro(e.At), e.Evidence, e.BodyDigest)
	return err
}

func (q cases) Create(ctx context.Context, c *exchange.Case) error {
	parties, err := json.Marshal(c.Parties)
	if err != nil {
		return err
	}
	exists := func() error {
		return exchange.Errorf(exchange.KindAlreadyExists, "CASE_EXISTS", "case number %s is taken: a 办件编码 is unique hub-wide (一企一事一码); give this case its own number", c.Number)
	}
	tx, err := q.s.begin(ctx, nil)
	if err != nil {
		return unavailable("open case", err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	if _, err := tx.ExecContext(ctx, `INSERT INTO cases (`+caseColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		c.Number, c.Matter, c.MatterVersion, c.Department, c.Applicant, string(c.ApplicantKind), string(parties), c.Region,
		string(c.State), len(c.History), micro(c.OpenedAt), micro(c.UpdatedAt)); err != nil {
		if q.s.d.IsUniqueViolation(err) {
			return exists()
		}
		return unavailable("open case", err)
	}
	for _, e := range c.History {
		if err := insertCaseEvent(ctx, tx, c.Number, e); err != nil {
			return unavailable("open case", err)
		}
	}
	if err := tx.Commit(); err != nil {
		if q.s.d.IsUniqueViolation(err) {
			return exists()
		}
		return unavailable("open case", err)
	}
	return nil
}

func scanCase(row interface{ Scan(...any) error }) (*exchange.Case, error) {
	var (
		c                    exchange.Case
		kind, parties, state string
		events               int
		opened, updated      int64
	)
	if err := row.Scan(&c.Number, &c.Matter, &c.MatterVersion, &c.Department, &c.Applicant, &kind, &parties, &c.Region, &state, &events, &opened, &updated); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(parties), &c.Parties); err != nil {
		return nil, err
	}
	c.ApplicantKind, c.State = exchange.SubjectKind(kind), exchange.CaseState(state)
	c.OpenedAt, c.UpdatedAt = fromMicro(opened), fromMicro(updated)
	return &c, nil
}

func (q cases) Brief(ctx context.Context, number string) (*exchange.Case, error) {
	c, err := scanCase(q.s.queryRow(ctx, `SELECT `+caseColumns+` FROM cases WHERE number = $1`, number))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, caseNotFound(number)
	}
	if err != nil {
		return nil, unavailable("read case", err)
	}
	return c, nil
}

func (q cases) Get(ctx context.Context, number string) (*exchange.Case, error) {
	c, err := q.Brief(ctx, number)
	if err != nil {
		return nil, err
	}
	rows, err := q.s.query(ctx, `SELECT seq, state, by_dept, comment, at, evidence, body_digest FROM case_events WHERE number = $1 ORDER BY seq`, number)
	if err != nil {
		return nil, unavailable("read case history", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			e     exchange.CaseEvent
			state string
			at    int64
		)
		if err := rows.Scan(&e.Seq, &state, &e.By, &e.Comment, &at, &e.Evidence, &e.BodyDigest); err != nil {
			return nil, unavailable("read case history", err)
		}
		e.State, e.At = exchange.CaseState(state), fromMicro(at)
		c.History = append(c.History, e)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("read case history", err)
	}
	mrows, err := q.s.query(ctx, `SELECT body FROM case_materials WHERE number = $1 ORDER BY seq`, number)
	if err != nil {
		return nil, unavailable("read case materials", err)
	}
	defer mrows.Close()
	for mrows.Next() {
		var body string
		var m exchange.CaseMaterial
		if err := mrows.Scan(&body); err != nil {
			return nil, unavailable("read case materials", err)
		}
		if err := json.Unmarshal([]byte(body), &m); err != nil {
			return nil, unavailable("decode case material", err)
		}
		c.Materials = append(c.Materials, m)
	}
	if err := mrows.Err(); err != nil {
		return nil, unavailable("read case materials", err)
	}
	return c, nil
}

func (q cases) End(ctx context.Context, number string, from exchange.CaseState, e exchange.CaseEvent) error {
	changed := func() error {
		return exchange.Errorf(exchange.KindFailedPrecondition, "CASE_CHANGED", "case %s changed since it was read: read it again", number)
	}
	tx, err := q.s.begin(ctx, nil)
	if err != nil {
		return unavailable("end case", err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	res, err := tx.ExecContext(ctx, `UPDATE cases SET state = $1, events = $2, updated_at = $3 WHERE number = $4 AND state = $5 AND events = $6`,
		string(e.State), e.Seq, micro(e.At), number, string(from), e.Seq-1)
	if err != nil {
		return unavailable("end case", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return unavailable("end case", err)
	} else if n == 0 {
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM cases WHERE number = $1`, number).Scan(&one); errors.Is(err, sql.ErrNoRows) {
			return caseNotFound(number)
		} else if err != nil {
			return unavailable("end case", err)
		}
		return changed()
	}
	if err := insertCaseEvent(ctx, tx, number, e); err != nil {
		if q.s.d.IsUniqueViolation(err) {
			return changed()
		}
		return unavailable("end case", err)
	}
	if err := tx.Commit(); err != nil {
		if q.s.d.IsUniqueViolation(err) {
			return changed()
		}
		return unavailable("end case", err)
	}
	return nil
}

func (q cases) AddMaterials(ctx context.Context, number string, ms []exchange.CaseMaterial) error {
	tx, err := q.s.begin(ctx, nil)
	if err != nil {
		return unavailable("record case materials", err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	// Touching the case row first takes its row lock (PostgreSQL) or the write lock
	// (SQLite), so concurrent adders number their materials one after the other.
	res, err := tx.ExecContext(ctx, `UPDATE cases SET updated_at = updated_at WHERE number = $1`, number)
	if err != nil {
		return unavailable("record case materials", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return unavailable("record case materials", err)
	} else if n == 0 {
		return caseNotFound(number)
	}
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM case_materials WHERE number = $1`, number).Scan(&n); err != nil {
		return unavailable("record case materials", err)
	}
	for i, m := range ms {
		b, err := json.Marshal(m)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO case_materials (number, seq, body) VALUES ($1, $2, $3)`, number, n+i+1, string(b)); err != nil {
			return unavailable("record case materials", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return unavailable("record case materials", err)
	}
	return nil
}

func (q cases) List(ctx context.Context, f store.CaseFilter, after string, limit int) ([]*exchange.Case, error) {
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	query := `SELECT ` + caseColumns + ` FROM cases WHERE number > $1`
	args := []any{after}
	add := func(cond string, v any) {
		args = append(args, v)
		query += ` AND ` + cond + ` $` + strconv.Itoa(len(args))
	}
	if f.Department != "" {
		add("department =", f.Department)
	}
	if f.Matter != "" {
		add("matter =", f.Matter)
	}
	if f.State != "" {
		add("state =", string(f.State))
	}
	if !f.OpenedBefore.IsZero() {
		add("opened_at <", f.OpenedBefore.UnixMicro())
	}
	args = append(args, limit)
	query += ` ORDER BY number LIMIT $` + strconv.Itoa(len(args))
	rows, err := q.s.queryRaw(ctx, query, args...) // built per call: not cached
	if err != nil {
		return nil, unavailable("list cases", err)
	}
	defer rows.Close()
	var out []*exchange.Case
	for rows.Next() {
		c, err := scanCase(rows)
		if err != nil {
			return nil, unavailable("list cases", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("list cases", err)
	}
	return out, nil
}
