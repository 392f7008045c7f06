package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/store"
	"github.com/gxhub/gxhub/ledger"
)

func init() {
	register(migration{13, "audit outbox: intents written with the business writes, drained into the log", `
CREATE TABLE audit_outbox (
	seq        {{autoid}},
	log_id     TEXT NOT NULL,
	intent_id  TEXT NOT NULL UNIQUE,
	leaf       {{blob}} NOT NULL,
	mac        {{blob}} NOT NULL,
	created_at {{int64}} NOT NULL,
	leaf_idx   {{int64}}
);
CREATE INDEX audit_outbox_pending ON audit_outbox (log_id, seq) WHERE leaf_idx IS NULL;
CREATE UNIQUE INDEX audit_outbox_leaf ON audit_outbox (log_id, leaf_idx) WHERE leaf_idx IS NOT NULL
`})
}

// Outbox implements store.Store.
func (s *Store) Outbox() store.Outbox { return outbox{s} }

type outbox struct{ s *Store }

// maxIntentLeaf bounds an intent's record (a record clips its texts far below this).
const maxIntentLeaf = 1 << 20

func (o outbox) Audited(ctx context.Context, fn func(ctx context.Context) ([]store.Intent, error)) ([]uint64, error) {
	if o.s.outerTx(ctx) != nil {
		return nil, fmt.Errorf("audited write: already inside an audited write; a business write is audited once")
	}
	tx, err := o.s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, unavailable("begin audited write", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit this is a no-op
	n := 0
	ins, err := fn(context.WithValue(ctx, txKey{}, &ctxTx{s: o.s, tx: tx, n: &n}))
	if err != nil {
		return nil, err
	}
	if len(ins) == 0 {
		return nil, fmt.Errorf("audited write: no audit intent; every business write has its audit record")
	}
	seqs := make([]uint64, len(ins))
	for i, in := range ins {
		if in.Log == "" || in.ID == "" || len(in.Leaf) == 0 || len(in.MAC) == 0 {
			return nil, fmt.Errorf("audited write: an intent needs a log, an id, a record and a seal")
		}
		if len(in.Leaf) > maxIntentLeaf {
			return nil, fmt.Errorf("audited write: the audit record is %d bytes, at most %d", len(in.Leaf), maxIntentLeaf)
		}
		at := in.CreatedAt
		if at.IsZero() {
			at = time.Now()
		}
		var seq int64
		err = tx.QueryRowContext(ctx, `INSERT INTO audit_outbox (log_id, intent_id, leaf, mac, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING seq`,
			in.Log, in.ID, in.Leaf, in.MAC, at.UnixMicro()).Scan(&seq)
		if err != nil {
			if o.s.d.IsUniqueViolation(err) {
				return nil, fmt.Errorf("audited write: intent %s is stored already; each write has its own intent", in.ID)
			}
			return nil, unavailable("store audit intent", err)
		}
		seqs[i] = uint64(seq)
	}
	if err := tx.Commit(); err != nil {
		return nil, unavailable("commit audited write", err)
	}
	return seqs, nil
}

const intentCols = `seq, log_id, intent_id, leaf, mac, created_at, leaf_idx`

func scanIntent(sc interface{ Scan(...any) error }) (store.Intent, error) {
	var (
		in      store.Intent
		seq, at int64
		idx     sql.NullInt64
	)
	if err := sc.Scan(&seq, &in.Log, &in.ID, &in.Leaf, &in.MAC, &at, &idx); err != nil {
		return store.Intent{}, err
	}
	in.Seq, in.CreatedAt = uint64(seq), time.UnixMicro(at).UTC()
	if idx.Valid {
		in.Done, in.Index = true, uint64(idx.Int64)
	}
	return in, nil
}

func (o outbox) list(ctx context.Context, q string, args ...any) ([]store.Intent, error) {
	rows, err := o.s.query(ctx, q, args...)
	if err != nil {
		return nil, unavailable("read audit intents", err)
	}
	defer rows.Close()
	var out []store.Intent
	for rows.Next() {
		in, err := scanIntent(rows)
		if err != nil {
			return nil, unavailable("read audit intent", err)
		}
		out = append(out, in)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("read audit intents", err)
	}
	return out, nil
}

func (o outbox) Pending(ctx context.Context, log string, after uint64, limit int) ([]store.Intent, error) {
	if limit < 1 || limit > 1000 {
		return nil, fmt.Errorf("outbox: limit %d out of 1..1000", limit)
	}
	return o.list(ctx, `SELECT `+intentCols+` FROM audit_outbox WHERE log_id = $1 AND leaf_idx IS NULL AND seq > $2 ORDER BY seq LIMIT $3`,
		log, int64(after), limit)
}

func (o outbox) Get(ctx context.Context, seq uint64) (store.Intent, error) {
	in, err := scanIntent(o.s.queryRow(ctx, `SELECT `+intentCols+` FROM audit_outbox WHERE seq = $1`, int64(seq)))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Intent{}, exchange.Errorf(exchange.KindNotFound, "INTENT_NOT_FOUND", "no audit intent %d", seq)
	}
	if err != nil {
		return store.Intent{}, unavailable("read audit intent", err)
	}
	return in, nil
}

func (o outbox) Drained(ctx context.Context, log string, from, to uint64) ([]store.Intent, error) {
	return o.list(ctx, `SELECT `+intentCols+` FROM audit_outbox WHERE log_id = $1 AND leaf_idx >= $2 AND leaf_idx < $3 ORDER BY leaf_idx`,
		log, int64(from), int64(to))
}

var _ ledger.IntentStorage = (*ledgerStorage)(nil)

// AppendIntentLeaves implements ledger.IntentStorage: the leaves, their nodes and the
// intents' marks commit in one transaction.
func (l *ledgerStorage) AppendIntentLeaves(ctx context.Context, start uint64, leaves [][]byte, nodes []ledger.Node, intents []uint64) error {
	if len(intents) != len(leaves) {
		return fmt.Errorf("%w: %d intents for %d leaves", ledger.ErrInvalid, len(intents), len(leaves))
	}
	if len(leaves) == 0 {
		return nil
	}
	return l.appendLeaves(ctx, start, leaves, nodes, intents)
}

// markIntents marks the intents of a batch done at their leaves' indices, inside the
// batch's transaction; an intent that is not pending fails the batch with
// ledger.ErrIntentDone.
func (l *ledgerStorage) markIntents(ctx context.Context, tx *sql.Tx, start uint64, intents []uint64) error {
	for i, seq := range intents {
		if seq == 0 {
			continue
		}
		res, err := tx.ExecContext(ctx, `UPDATE audit_outbox SET leaf_idx = $1 WHERE seq = $2 AND log_id = $3 AND leaf_idx IS NULL`,
			int64(start)+int64(i), int64(seq), l.log)
		if err != nil {
			return ledgerErr("mark audit intent", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return ledgerErr("mark audit intent", err)
		} else if n != 1 {
			return fmt.Errorf("%w: intent %d of log %s", ledger.ErrIntentDone, seq, l.log)
		}
	}
	return nil
}
