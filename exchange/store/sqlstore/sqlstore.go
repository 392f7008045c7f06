// Package sqlstore implements store.Store over database/sql for both SQLite and
// PostgreSQL. The SQL is written once with $N placeholders (both drivers accept them);
// the few dialect differences (column types, locking) sit in Dialect. The driver packages
// (store/sqlite, store/postgres) open the *sql.DB and pick the dialect; this package has no
// dependency beyond the standard library.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gxhub/gxhub/exchange/store"
)

// Dialect holds what differs between the SQL engines.
type Dialect struct {
	Name string
	// Blob, Int64 and AutoID are column types substituted for {{blob}}, {{int64}}, {{autoid}}.
	Blob, Int64, AutoID string
	// LockMigrations serialises schema migration across processes inside tx.
	LockMigrations func(ctx context.Context, tx *sql.Tx) error
	// LockChanges, if set, serialises appends to the change feed inside tx until it
	// commits, so that sequence order is commit order (engines with concurrent writers).
	LockChanges func(ctx context.Context, tx *sql.Tx) error
	// IsUniqueViolation reports whether err is a unique/primary-key violation.
	IsUniqueViolation func(err error) bool
	// Positional makes generated multi-row statements use anonymous "?" placeholders
	// instead of "$N". SQLite treats "$N" as a named parameter and looks every one up in
	// a linear list, when parsing and again when binding: quadratic in the parameters
	// of a statement (two thirds of a 125-record audit append's CPU).
	Positional bool
}

// ph returns the placeholder of the n-th (1-based) argument of a generated statement.
// Generated statements use it for every argument, never mixed with literal "$N".
func (s *Store) ph(n int) string {
	if s.d.Positional {
		return "?"
	}
	return "$" + strconv.Itoa(n)
}

// multiInsert returns "<head> VALUES (…), …" for rows of cols arguments each, and the
// arguments, row(i) for i in [0, rows).
func (s *Store) multiInsert(head string, rows, cols int, row func(i int) []any) (string, []any) {
	var q strings.Builder
	q.WriteString(head)
	q.WriteString(" VALUES ")
	args := make([]any, 0, rows*cols)
	for i := range rows {
		if i > 0 {
			q.WriteByte(',')
		}
		s.tuple(&q, len(args), cols)
		args = append(args, row(i)...)
	}
	return q.String(), args
}

// tuple writes "(p1, …, pn)" for the n arguments after the first done ones.
func (s *Store) tuple(b *strings.Builder, done, n int) {
	b.WriteByte('(')
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(s.ph(done + i + 1))
	}
	b.WriteByte(')')
}

// Store is a store.Store over a *sql.DB.
type Store struct {
	db *sql.DB
	d  Dialect
	// relaxed, if set, is a second pool on the same database whose commits do not wait for
	// a flush to stable storage; used for request nonces and for the audit index rows
	// (derived data, see audit_indexer.go).
	relaxed *sql.DB

	// Background work (the audit indexers), stopped by Close.
	bgMu     sync.Mutex
	bgCtx    context.Context
	bgCancel context.CancelFunc
	bg       sync.WaitGroup
	closed   bool
	indexers map[string]*indexer

	stmts stmtCache

	// migrated, if set, is told of each schema step applied by Open.
	migrated func(version int, name string)
	// indexOnRead: no background follower; the audit index catches up when read.
	indexOnRead bool
}

// relaxedPool returns the relaxed pool, or the main one if there is none.
func (s *Store) relaxedPool() *sql.DB {
	if s.relaxed != nil {
		return s.relaxed
	}
	return s.db
}

// Option configures Open.
type Option func(*Store)

// WithRelaxedDB gives the store a pool for writes that may be lost on a machine (not
// process) crash. The store closes it.
func WithRelaxedDB(db *sql.DB) Option { return func(s *Store) { s.relaxed = db } }

// WithAuditIndexOnRead runs no background follower of the audit index: the index catches
// up with the log only when it is read (Search, HourlyCounts, Indexed, …), so that appends
// never share the database with the follower's writes. Searches then pay for the records
// appended since the last one.
func WithAuditIndexOnRead() Option { return func(s *Store) { s.indexOnRead = true } }

// WithMigrationProgress has Open call fn after each schema step it applies (not for steps
// applied before), so that a first start can say what it is doing.
func WithMigrationProgress(fn func(version int, name string)) Option {
	return func(s *Store) { s.migrated = fn }
}

var _ store.Store = (*Store)(nil)

// Open migrates db to the newest schema and returns the store. It owns db from then on.
func Open(ctx context.Context, db *sql.DB, d Dialect, opts ...Option) (*Store, error) {
	s := &Store{db: db, d: d}
	s.bgCtx, s.bgCancel = context.WithCancel(context.Background())
	for _, o := range opts {
		o(s)
	}
	if err := s.migrate(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// DB returns the underlying database (for adapters that add their own tables through the
// migration list, and for tests).
func (s *Store) DB() *sql.DB { return s.db }

// Dialect returns the store's dialect.
func (s *Store) Dialect() Dialect { return s.d }

// Departments implements store.Store.
func (s *Store) Departments() store.Departments { return departments{s} }

// Nonces implements store.Store.
func (s *Store) Nonces() store.Nonces { return nonces{s} }

// Ping implements store.Store.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("%s store unreachable: %w", s.d.Name, err)
	}
	return nil
}

// Close implements store.Store.
func (s *Store) Close() error {
	s.stopBackground()
	s.stmts.close()
	if s.relaxed != nil {
		s.relaxed.Close()
	}
	return s.db.Close()
}

// migration is one schema step. Steps are applied in version order, each in its own
// transaction together with its row in schema_migrations, so a crash leaves either the
// whole step or none of it.
type migration struct {
	version int
	name    string
	sql     string
}

// goStep is a migration step in Go instead of SQL that may take several transactions:
// migrate calls it, each time in a new transaction under the migration lock, until it
// reports done, and records the migration in the transaction of that last call.
type goStep func(ctx context.Context, s *Store, tx *sql.Tx) (done bool, err error)

// goSteps are the Go steps by migration version (registerStep).
var goSteps = map[int]goStep{}

// registerStep adds a migration step done in Go.
func registerStep(version int, name string, fn goStep) {
	register(migration{version, name, ""})
	goSteps[version] = fn
}

// Version ranges reserved per area, so that areas add migrations in their own files
// without colliding: core 1–9, ledger 10–19, catalogue 20–29, requirements 30–39,
// policy 40–49, records and pulls 50–59, matters 60–69, certificates 70–79, calendar 90–99.
var migrations []migration

// register adds a migration step; each file calls it from init. Never edit an applied step:
// add a new one.
func register(m migration) {
	for _, o := range migrations {
		if o.version == m.version {
			panic(fmt.Sprintf("sqlstore: migration %d registered twice (%q and %q)", m.version, o.name, m.name))
		}
	}
	migrations = append(migrations, m)
	sort.Slice(migrations, func(i, j int) bool { return migrations[i].version < migrations[j].version })
}

func init() {
	register(migration{1, "departments and nonces", `
CREATE TABLE departments (
	code          TEXT PRIMARY KEY,
	name          TEXT NOT NULL,
	level         INTEGER NOT NULL,
	region        TEXT NOT NULL,
	roles         TEXT NOT NULL,
	certificate   {{blob}} NOT NULL,
	cert_serial   TEXT NOT NULL,
	registered_at {{int64}} NOT NULL
);
CREATE INDEX departments_region ON departments (region, level);
CREATE TABLE request_nonces (
	department TEXT NOT NULL,
	nonce      TEXT NOT NULL,
	expires_at {{int64}} NOT NULL,
	PRIMARY KEY (department, nonce)
);
CREATE INDEX request_nonces_expiry ON request_nonces (expires_at);
`})
}

func (s *Store) expand(q string) string {
	return strings.NewReplacer("{{blob}}", s.d.Blob, "{{int64}}", s.d.Int64, "{{autoid}}", s.d.AutoID).Replace(q)
}

func (s *Store) migrate(ctx context.Context) error {
	// Even the bookkeeping table is created under the migration lock: concurrent
	// CREATE TABLE IF NOT EXISTS races on PostgreSQL when replicas start together.
	err := s.locked(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.expand(`CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER PRIMARY KEY,
	name       TEXT NOT NULL,
	applied_at {{int64}} NOT NULL)`))
		return err
	})
	if err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	for _, m := range migrations {
		applied := false
		for finished := false; !finished; {
			finished = true
			if err := s.locked(ctx, func(tx *sql.Tx) (err error) {
				applied, err = s.apply(ctx, tx, m)
				if errors.Is(err, errMoreSteps) {
					finished = false
					return nil
				}
				return err
			}); err != nil {
				return fmt.Errorf("schema migration %d (%s): %w", m.version, m.name, err)
			}
		}
		if applied && s.migrated != nil {
			s.migrated(m.version, m.name)
		}
	}
	return nil
}

// locked runs fn in a transaction holding the dialect's migration lock and commits it.
func (s *Store) locked(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit this is a no-op
	if s.d.LockMigrations != nil {
		if err := s.d.LockMigrations(ctx, tx); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
	}
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// apply runs one migration step and records it, unless it is recorded already; it
// reports whether it applied the step.
func (s *Store) apply(ctx context.Context, tx *sql.Tx, m migration) (bool, error) {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = $1`, m.version).Scan(&n); err != nil {
		return false, err
	}
	if n > 0 {
		return false, nil
	}
	for _, stmt := range splitStatements(s.expand(m.sql)) {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return false, fmt.Errorf("%w in %q", err, firstLine(stmt))
		}
	}
	if step := goSteps[m.version]; step != nil {
		done, err := step(ctx, s, tx)
		if err != nil {
			return false, err
		}
		if !done {
			return false, errMoreSteps // commit this part; call again
		}
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
		m.version, m.name, time.Now().UnixMicro())
	return err == nil, err
}

// errMoreSteps: a Go migration step committed a part of its work and has more to do.
var errMoreSteps = errors.New("migration step not finished")

func splitStatements(q string) []string {
	var out []string
	for _, p := range strings.Split(q, ";") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// SchemaVersion implements store.Store.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v sql.NullInt64
	if err := s.queryRow(ctx, `SELECT max(version) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return int(v.Int64), nil
}

// LatestSchemaVersion is the version Open migrates to.
func LatestSchemaVersion() int { return migrations[len(migrations)-1].version }

// unavailable wraps a database error as a retryable store failure without leaking SQL.
func unavailable(op string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("store: %s: %w", op, err)
}
