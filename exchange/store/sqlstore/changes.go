package sqlstore

import (
	"context"
	"database/sql"

	"github.com/gxhub/gxhub/exchange"
)

func init() {
	register(migration{140, "the change feed of records (subscriptions follow it by cursor)", `
CREATE TABLE record_changes (
	seq      {{autoid}},
	resource TEXT NOT NULL,
	subject  TEXT NOT NULL,
	version  {{int64}} NOT NULL
);
CREATE INDEX record_changes_resource ON record_changes (resource, seq);
INSERT INTO record_changes (resource, subject, version)
	SELECT resource, subject, version FROM records ORDER BY published_at, resource, subject, version
`})
}

// changesPerInsert bounds the rows of one insert into the change feed.
const changesPerInsert = 1000

// appendChanges adds a publish's record versions to the change feed inside its
// transaction, so a change is in the feed exactly when its record is. Seq order is commit
// order: SQLite has one writer at a time; PostgreSQL takes Dialect.LockChanges first, so
// a follower that has read up to a seq never later finds a smaller one committed.
func (s *Store) appendChanges(ctx context.Context, tx *sql.Tx, recs []*exchange.Record) error {
	if s.d.LockChanges != nil {
		if err := s.d.LockChanges(ctx, tx); err != nil {
			return unavailable("lock the change feed", err)
		}
	}
	for len(recs) > 0 {
		n := min(len(recs), changesPerInsert)
		q, args := s.multiInsert(`INSERT INTO record_changes (resource, subject, version)`, n, 3, func(i int) []any {
			return []any{recs[i].Resource, recs[i].Subject, recs[i].Version}
		})
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return unavailable("append to the change feed", err)
		}
		recs = recs[n:]
	}
	return nil
}

// ChangesAfter implements exchange.ChangeFeed.
func (r records) ChangesAfter(ctx context.Context, resource string, after int64, limit int) ([]exchange.FeedChange, error) {
	limit = max(1, min(limit, 10000))
	rows, err := r.s.db.QueryContext(ctx, `SELECT seq, subject, version FROM record_changes WHERE resource = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
		resource, after, limit)
	if err != nil {
		return nil, unavailable("read the change feed", err)
	}
	defer rows.Close()
	var out []exchange.FeedChange
	for rows.Next() {
		c := exchange.FeedChange{Resource: resource}
		if err := rows.Scan(&c.Seq, &c.Subject, &c.Version); err != nil {
			return nil, unavailable("read the change feed", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("read the change feed", err)
	}
	return out, nil
}
