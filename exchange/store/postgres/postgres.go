// Package postgres opens the hub's PostgreSQL store through pgx/v5 (database/sql driver),
// for deployments with several hub replicas sharing one database.
package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver

	"github.com/gxhub/gxhub/exchange/store/sqlstore"
)

// migrationLockKey is the advisory lock that serialises schema migration across replicas.
const migrationLockKey = 0x67786875620001 // "gxhub" + 1

// changesLockKey is the advisory lock that orders appends to the change feed (sqlstore
// Dialect.LockChanges): held from a publish's append until its commit.
const changesLockKey = 0x67786875620002 // "gxhub" + 2

// Dialect is PostgreSQL's sqlstore dialect.
var Dialect = sqlstore.Dialect{
	Name:   "postgres",
	Blob:   "BYTEA",
	Int64:  "BIGINT",
	AutoID: "BIGSERIAL PRIMARY KEY",
	LockMigrations: func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrationLockKey))
		return err
	},
	LockChanges: func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(changesLockKey))
		return err
	},
	IsUniqueViolation: func(err error) bool {
		var pe *pgconn.PgError
		return errors.As(err, &pe) && pe.Code == "23505"
	},
}

// Open connects to the database at dsn (a postgres:// URL or key=value DSN) and migrates it.
func Open(ctx context.Context, dsn string, opts ...sqlstore.Option) (*sqlstore.Store, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL DSN: %w", err)
	}
	db.SetMaxOpenConns(32)
	db.SetMaxIdleConns(32)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to PostgreSQL (check --postgres / GXHUB_POSTGRES_DSN and that the server runs): %w", err)
	}
	// Request nonces commit with synchronous_commit=off: durable against a crash of the hub,
	// not waiting for the WAL flush (see sqlstore nonces.Use).
	relaxed, err := sql.Open("pgx", withRuntimeParam(dsn, "synchronous_commit", "off"))
	if err != nil {
		db.Close()
		return nil, err
	}
	relaxed.SetMaxOpenConns(8)
	relaxed.SetMaxIdleConns(8)
	s, err := sqlstore.Open(ctx, db, Dialect, append([]sqlstore.Option{sqlstore.WithRelaxedDB(relaxed)}, opts...)...)
	if err != nil {
		db.Close()
		relaxed.Close()
		return nil, fmt.Errorf("PostgreSQL store: %w", err)
	}
	return s, nil
}

// withRuntimeParam adds a server run-time parameter to a DSN (URL or key=value form).
func withRuntimeParam(dsn, key, value string) string {
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		q := u.Query()
		q.Set(key, value)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " " + key + "=" + value
}
