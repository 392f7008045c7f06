package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/store"
	"github.com/gxhub/gxhub/policy"
)

func init() {
	register(migration{40, "policy rules and versions", `
CREATE TABLE policy_rules (
	ptype  TEXT NOT NULL,
	fields TEXT NOT NULL,
	added_in {{int64}} NOT NULL,
	PRIMARY KEY (ptype, fields)
);
CREATE TABLE policy_versions (
	version     {{int64}} PRIMARY KEY,
	added       TEXT NOT NULL,
	removed     TEXT NOT NULL,
	by_dept     TEXT NOT NULL,
	operator    TEXT NOT NULL,
	comment     TEXT NOT NULL,
	at          {{int64}} NOT NULL,
	evidence    TEXT NOT NULL,
	body_digest TEXT NOT NULL
);
`})
}

// Policies implements store.Store.
func (s *Store) Policies() store.Policies { return policies{s} }

type policies struct{ s *Store }

type rowQuerier interface {
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

func policyVersion(ctx context.Context, q rowQuerier) (int64, error) {
	var v int64
	err := q.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM policy_versions`).Scan(&v)
	return v, err
}

func (p policies) Version(ctx context.Context) (int64, error) {
	v, err := policyVersion(ctx, p.s.conn(ctx))
	if err != nil {
		return 0, unavailable("policy version", err)
	}
	return v, nil
}

func (p policies) Rules(ctx context.Context) ([]policy.Rule, int64, error) {
	var opts *sql.TxOptions
	if p.s.d.Name != "sqlite" { // one SQLite read transaction is a snapshot already
		opts = &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}
	}
	tx, err := p.s.begin(ctx, opts)
	if err != nil {
		return nil, 0, unavailable("read policy", err)
	}
	defer tx.Rollback() //nolint:errcheck // read only
	v, err := policyVersion(ctx, tx)
	if err != nil {
		return nil, 0, unavailable("read policy version", err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT ptype, fields FROM policy_rules ORDER BY added_in, ptype, fields`)
	if err != nil {
		return nil, 0, unavailable("read policy rules", err)
	}
	defer rows.Close()
	var out []policy.Rule
	for rows.Next() {
		var r policy.Rule
		var fields string
		if err := rows.Scan(&r.PType, &fields); err != nil {
			return nil, 0, unavailable("read policy rule", err)
		}
		if err := json.Unmarshal([]byte(fields), &r.Fields); err != nil {
			return nil, 0, fmt.Errorf("stored policy rule %q does not decode: %w", fields, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, unavailable("read policy rules", err)
	}
	return out, v, nil
}

func ruleKey(r policy.Rule) string {
	b, _ := json.Marshal(r.Fields)
	return string(b)
}

func rulesJSON(rs []policy.Rule) string {
	if rs == nil {
		rs = []policy.Rule{}
	}
	b, _ := json.Marshal(rs)
	return string(b)
}

func (p policies) Apply(ctx context.Context, c policy.Change, expect int64) (policy.Change, error) {
	for _, r := range append(append([]policy.Rule{}, c.Add...), c.Remove...) {
		if r.PType != "p" && r.PType != "g" {
			return c, exchange.Errorf(exchange.KindInvalid, "POLICY_RULE_INVALID", "rule %q: type must be p or g", r.String())
		}
	}
	tx, err := p.s.begin(ctx, nil)
	if err != nil {
		return c, unavailable("begin policy change", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit this is a no-op
	// The change must follow the current version exactly: an expected version behind it
	// (another change came first) or ahead of it (never read) is a conflict.
	if cur, err := policyVersion(ctx, tx); err != nil {
		return c, unavailable("policy version", err)
	} else if cur != expect {
		return c, store.ErrPolicyConflict
	}
	next := expect + 1
	// Claim the version: of two concurrent changes from the same version, the second
	// insert collides (or, on SQLite, waits for the writer) and writes nothing.
	_, err = tx.ExecContext(ctx, `INSERT INTO policy_versions (version, added, removed, by_dept, operator, comment, at, evidence, body_digest)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, next, rulesJSON(c.Add), rulesJSON(c.Remove), c.By, c.Operator, c.Comment, c.At.UnixMicro(), c.Evidence, c.BodyDigest)
	if err != nil {
		if p.s.d.IsUniqueViolation(err) {
			return c, store.ErrPolicyConflict
		}
		return c, unavailable("record policy change", err)
	}
	cur, err := policyVersion(ctx, tx)
	if err != nil {
		return c, unavailable("policy version", err)
	}
	if cur != next {
		return c, store.ErrPolicyConflict
	}
	for _, r := range c.Remove {
		res, err := tx.ExecContext(ctx, `DELETE FROM policy_rules WHERE ptype = $1 AND fields = $2`, r.PType, ruleKey(r))
		if err != nil {
			return c, unavailable("remove policy rule", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return c, exchange.Errorf(exchange.KindInvalid, "POLICY_RULE_ABSENT", "rule %q is not in the policy: list the rules and name one exactly", r.String())
		}
	}
	for _, r := range c.Add {
		if _, err := tx.ExecContext(ctx, `INSERT INTO policy_rules (ptype, fields, added_in) VALUES ($1, $2, $3)`, r.PType, ruleKey(r), next); err != nil {
			if p.s.d.IsUniqueViolation(err) {
				return c, exchange.Errorf(exchange.KindInvalid, "POLICY_RULE_EXISTS", "rule %q is already in the policy", r.String())
			}
			return c, unavailable("add policy rule", err)
		}
	}
	if err := tx.Commit(); err != nil {
		if p.s.d.IsUniqueViolation(err) {
			return c, store.ErrPolicyConflict
		}
		return c, unavailable("commit policy change", err)
	}
	c.Version = next
	return c, nil
}

func (p policies) History(ctx context.Context, before int64, limit int) ([]policy.Change, error) {
	if limit < 1 || limit > 1000 {
		return nil, exchange.Errorf(exchange.KindInvalid, "PAGE_SIZE_INVALID", "page size must be between 1 and 1000, got %d", limit)
	}
	if before <= 0 {
		before = 1 << 62
	}
	rows, err := p.s.query(ctx, `SELECT version, added, removed, by_dept, operator, comment, at, evidence, body_digest
FROM policy_versions WHERE version < $1 ORDER BY version DESC LIMIT $2`, before, limit)
	if err != nil {
		return nil, unavailable("policy history", err)
	}
	defer rows.Close()
	var out []policy.Change
	for rows.Next() {
		var c policy.Change
		var added, removed string
		var at int64
		if err := rows.Scan(&c.Version, &added, &removed, &c.By, &c.Operator, &c.Comment, &at, &c.Evidence, &c.BodyDigest); err != nil {
			return nil, unavailable("policy history", err)
		}
		if err := json.Unmarshal([]byte(added), &c.Add); err != nil {
			return nil, fmt.Errorf("stored policy change %d does not decode: %w", c.Version, err)
		}
		if err := json.Unmarshal([]byte(removed), &c.Remove); err != nil {
			return nil, fmt.Errorf("stored policy change %d does not decode: %w", c.Version, err)
		}
		c.At = time.UnixMicro(at).UTC()
		out = append(out, c)
	}
	return out, rows.Err()
}
