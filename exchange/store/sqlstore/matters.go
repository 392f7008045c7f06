package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"

	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/store"
)

func init() {
	register(migration{60, "matter catalogue", `
CREATE TABLE matters (
	code       TEXT PRIMARY KEY,
	department TEXT NOT NULL,
	version    INTEGER NOT NULL,
	body       TEXT NOT NULL
);
CREATE INDEX matters_department ON matters (department, code);
CREATE TABLE matter_versions (
	code    TEXT NOT NULL,
	version INTEGER NOT NULL,
	body    TEXT NOT NULL,
	PRIMARY KEY (code, version)
);
`})
}

type matters struct{ s *Store }

// Matters implements store.Store.
func (s *Store) Matters() store.Matters { return matters{s} }

func (m matters) Put(ctx context.Context, mt *exchange.Matter) error {
	if mt.Version < 1 {
		return exchange.Errorf(exchange.KindInvalid, "MATTER_VERSION_INVALID", "matter version must be at least 1")
	}
	b, err := json.Marshal(mt)
	if err != nil {
		return err
	}
	conflict := func() error {
		return exchange.Errorf(exchange.KindFailedPrecondition, "MATTER_VERSION_CONFLICT",
			"matter %s changed since it was read: read the current version and apply the change again", mt.Code)
	}
	tx, err := m.s.begin(ctx, nil)
	if err != nil {
		return unavailable("put matter", err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	if mt.Version == 1 {
		if _, err := tx.ExecContext(ctx, `INSERT INTO matters (code, department, version, body) VALUES ($1, $2, 1, $3)`, mt.Code, mt.Department, string(b)); err != nil {
			if m.s.d.IsUniqueViolation(err) {
				return exchange.Errorf(exchange.KindAlreadyExists, "MATTER_EXISTS", "matter %s is already defined: change it as a new version", mt.Code)
			}
			return unavailable("put matter", err)
		}
	} else {
		res, err := tx.ExecContext(ctx, `UPDATE matters SET department = $1, version = $2, body = $3 WHERE code = $4 AND version = $5`,
			mt.Department, mt.Version, string(b), mt.Code, mt.Version-1)
		if err != nil {
			return unavailable("put matter", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return unavailable("put matter", err)
		} else if n == 0 {
			var one int
			if err := tx.QueryRowContext(ctx, `SELECT 1 FROM matters WHERE code = $1`, mt.Code).Scan(&one); errors.Is(err, sql.ErrNoRows) {
				return matterNotFound(mt.Code)
			} else if err != nil {
				return unavailable("put matter", err)
			}
			return conflict()
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO matter_versions (code, version, body) VALUES ($1, $2, $3)`, mt.Code, mt.Version, string(b)); err != nil {
		if m.s.d.IsUniqueViolation(err) {
			return conflict()
		}
		return unavailable("put matter", err)
	}
	if err := tx.Commit(); err != nil {
		if m.s.d.IsUniqueViolation(err) {
			if mt.Version == 1 {
				return exchange.Errorf(exchange.KindAlreadyExists, "MATTER_EXISTS", "matter %s is already defined: change it as a new version", mt.Code)
			}
			return conflict()
		}
		return unavailable("put matter", err)
	}
	return nil
}

func matterNotFound(code string) error {
	return exchange.Errorf(exchange.KindNotFound, "MATTER_NOT_FOUND", "no matter with code %q is defined", code)
}

func decodeMatter(body string) (*exchange.Matter, error) {
	var mt exchange.Matter
	if err := json.Unmarshal([]byte(body), &mt); err != nil {
		return nil, unavailable("decode matter", err)
	}
	return &mt, nil
}

func (m matters) Get(ctx context.Context, code string) (*exchange.Matter, error) {
	var body string
	err := m.s.queryRow(ctx, `SELECT body FROM matters WHERE code = $1`, code).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, matterNotFound(code)
	}
	if err != nil {
		return nil, unavailable("get matter", err)
	}
	return decodeMatter(body)
}

func (m matters) List(ctx context.Context, department, after string, limit int) ([]*exchange.Matter, error) {
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	q, args := `SELECT body FROM matters WHERE code > $1 ORDER BY code LIMIT $2`, []any{after, limit}
	if department != "" {
		q, args = `SELECT body FROM matters WHERE code > $1 AND department = $2 ORDER BY code LIMIT $3`, []any{after, department, limit}
	}
	rows, err := m.s.queryRaw(ctx, q, args...) // built per call: not cached
	if err != nil {
		return nil, unavailable("list matters", err)
	}
	defer rows.Close()
	var out []*exchange.Matter
	for rows.Next() {
		var body string
		if err := rows.Scan(&body); err != nil {
			return nil, unavailable("list matters", err)
		}
		mt, err := decodeMatter(body)
		if err != nil {
			return nil, err
		}
		out = append(out, mt)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("list matters", err)
	}
	return out, nil
}
