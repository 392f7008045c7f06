package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
)

// An audited write (Store.Audited) runs the business write and its audit intent in ONE
// transaction. The store's methods called with the context Audited hands to its function
// join that transaction: their statements run on it, and a method that opens its own
// transaction gets a savepoint instead, so that its failure undoes only its own writes.

type txKey struct{}

// ctxTx is the transaction carried by a context, with the store it belongs to.
type ctxTx struct {
	s  *Store
	tx *sql.Tx
	n  *int // savepoints opened so far (names must be unique within the transaction)
}

// outerTx returns the audited transaction ctx carries for this store, or nil.
func (s *Store) outerTx(ctx context.Context) *sql.Tx {
	if t, ok := ctx.Value(txKey{}).(*ctxTx); ok && t.s == s {
		return t.tx
	}
	return nil
}

// txn is a transaction a store method opened: the real one, or a savepoint of the audited
// transaction the context carries.
type txn struct {
	*sql.Tx
	savepoint string // non-empty for a savepoint
	done      bool
}

// begin opens a transaction, or a savepoint of the audited transaction ctx carries.
func (s *Store) begin(ctx context.Context, opts *sql.TxOptions) (*txn, error) {
	if t, ok := ctx.Value(txKey{}).(*ctxTx); ok && t.s == s {
		*t.n++
		name := fmt.Sprintf("sp%d", *t.n)
		if _, err := t.tx.ExecContext(ctx, "SAVEPOINT "+name); err != nil {
			return nil, err
		}
		return &txn{Tx: t.tx, savepoint: name}, nil
	}
	tx, err := s.db.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &txn{Tx: tx}, nil
}

// Commit commits the transaction, or releases the savepoint (its writes then commit, or
// not, with the audited transaction).
func (t *txn) Commit() error {
	if t.savepoint == "" {
		return t.Tx.Commit()
	}
	if t.done {
		return sql.ErrTxDone
	}
	t.done = true
	_, err := t.Tx.Exec("RELEASE SAVEPOINT " + t.savepoint)
	return err
}

// Rollback rolls the transaction back, or undoes the savepoint's writes; a no-op after
// Commit.
func (t *txn) Rollback() error {
	if t.savepoint == "" {
		return t.Tx.Rollback()
	}
	if t.done {
		return sql.ErrTxDone
	}
	t.done = true
	if _, err := t.Tx.Exec("ROLLBACK TO SAVEPOINT " + t.savepoint); err != nil {
		return err
	}
	_, err := t.Tx.Exec("RELEASE SAVEPOINT " + t.savepoint)
	return err
}

// queryRaw runs a query built per call (not cached) on the audited transaction ctx
// carries, or on the pool.
func (s *Store) queryRaw(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if tx := s.outerTx(ctx); tx != nil {
		return tx.QueryContext(ctx, q, args...)
	}
	return s.db.QueryContext(ctx, q, args...)
}

// sqlConn is what a *sql.DB and a *sql.Tx both do.
type sqlConn interface {
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

// conn returns the audited transaction ctx carries, or the pool.
func (s *Store) conn(ctx context.Context) sqlConn {
	if tx := s.outerTx(ctx); tx != nil {
		return tx
	}
	return s.db
}
