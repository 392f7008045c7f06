package sqlstore

import (
	"context"
	"strconv"
	"strings"

	"github.com/gxhub/gxhub/exchange/calendar"
	"github.com/gxhub/gxhub/exchange/store"
)

func init() {
	register(migration{90, "working-day calendar publications", `
CREATE TABLE calendar_publications (
	version     {{int64}} PRIMARY KEY,
	years       TEXT NOT NULL,
	file        {{blob}} NOT NULL,
	replace_    INTEGER NOT NULL,
	reason      TEXT NOT NULL,
	by_dept     TEXT NOT NULL,
	operator    TEXT NOT NULL,
	at          {{int64}} NOT NULL,
	evidence    TEXT NOT NULL,
	body_digest TEXT NOT NULL
)
`})
	register(migration{91, "provisional requirement deadlines", `
ALTER TABLE requirements ADD COLUMN deadline_days INTEGER NOT NULL DEFAULT 0;
ALTER TABLE requirements ADD COLUMN deadline_provisional INTEGER NOT NULL DEFAULT 0;
CREATE INDEX requirements_provisional ON requirements (deadline_provisional, id)
`})
}

// CalendarYears implements store.Store.
func (s *Store) CalendarYears() store.CalendarYears { return calendarYears{s} }

type calendarYears struct{ s *Store }

func (c calendarYears) Version(ctx context.Context) (int64, error) {
	var v int64
	if err := c.s.queryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM calendar_publications`).Scan(&v); err != nil {
		return 0, unavailable("calendar version", err)
	}
	return v, nil
}

func yearsText(ys []int) string {
	parts := make([]string, len(ys))
	for i, y := range ys {
		parts[i] = strconv.Itoa(y)
	}
	return strings.Join(parts, ",")
}

func bool01(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (c calendarYears) Publish(ctx context.Context, p calendar.Publication, expect int64) (calendar.Publication, error) {
	tx, err := c.s.begin(ctx, nil)
	if err != nil {
		return p, unavailable("begin calendar publication", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit this is a no-op
	var cur int64
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM calendar_publications`).Scan(&cur); err != nil {
		return p, unavailable("calendar version", err)
	}
	if cur != expect {
		return p, store.ErrCalendarConflict
	}
	next := expect + 1
	// Claim the version: of two publications from the same version the second insert
	// collides (or, on SQLite, waits for the writer and then collides).
	if _, err := tx.ExecContext(ctx, `INSERT INTO calendar_publications (version, years, file, replace_, reason, by_dept, operator, at, evidence, body_digest)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, next, yearsText(p.Years), p.File, bool01(p.Replace), p.Reason, p.By, p.Operator, p.At.UnixMicro(), p.Evidence, p.BodyDigest); err != nil {
		if c.s.d.IsUniqueViolation(err) {
			return p, store.ErrCalendarConflict
		}
		return p, unavailable("store calendar publication", err)
	}
	if err := tx.Commit(); err != nil {
		if c.s.d.IsUniqueViolation(err) {
			return p, store.ErrCalendarConflict
		}
		return p, unavailable("commit calendar publication", err)
	}
	p.Version = next
	return p, nil
}

func (c calendarYears) Publications(ctx context.Context, after int64, limit int) ([]calendar.Publication, error) {
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	rows, err := c.s.query(ctx, `SELECT version, years, file, replace_, reason, by_dept, operator, at, evidence, body_digest
FROM calendar_publications WHERE version > $1 ORDER BY version LIMIT $2`, after, limit)
	if err != nil {
		return nil, unavailable("read calendar publications", err)
	}
	defer rows.Close()
	var out []calendar.Publication
	for rows.Next() {
		var (
			p       calendar.Publication
			years   string
			replace int
			at      int64
		)
		if err := rows.Scan(&p.Version, &years, &p.File, &replace, &p.Reason, &p.By, &p.Operator, &at, &p.Evidence, &p.BodyDigest); err != nil {
			return nil, unavailable("read calendar publications", err)
		}
		for _, y := range strings.Split(years, ",") {
			if n, err := strconv.Atoi(y); err == nil {
				p.Years = append(p.Years, n)
			}
		}
		p.Replace, p.At = replace != 0, fromMicro(at)
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("read calendar publications", err)
	}
	return out, nil
}
