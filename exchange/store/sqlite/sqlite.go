// Package sqlite opens the hub's embedded SQLite store (modernc.org/sqlite, pure Go).
//
// The database runs in WAL mode with synchronous=FULL, so a write acknowledged to a caller
// survives a crash of the process or the machine. Request nonces alone use a second pool
// with synchronous=NORMAL (see sqlstore nonces.Use). Transactions start IMMEDIATE so that
// concurrent writers queue on the busy timeout instead of failing with SQLITE_BUSY on lock
// upgrade.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/gxhub/gxhub/exchange/store/sqlstore"
)

// FileName is the database file inside the data directory.
const FileName = "gxhub.db"

// Dialect is SQLite's sqlstore dialect.
var Dialect = sqlstore.Dialect{
	Name:       "sqlite",
	Blob:       "BLOB",
	Int64:      "INTEGER",
	AutoID:     "INTEGER PRIMARY KEY AUTOINCREMENT",
	Positional: true,
	IsUniqueViolation: func(err error) bool {
		var se *sqlite.Error
		if errors.As(err, &se) {
			c := se.Code()
			return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
		}
		return false
	},
}

// Open opens (creating if needed) the store in dir/FileName and migrates it.
func Open(ctx context.Context, dir string, opts ...sqlstore.Option) (*sqlstore.Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory %s: %w", dir, err)
	}
	return OpenFile(ctx, filepath.Join(dir, FileName), opts...)
}

func dsn(path, synchronous string) string {
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "synchronous(" + synchronous + ")", "busy_timeout(10000)", "foreign_keys(ON)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	return "file:" + path + "?" + q.Encode()
}

// OpenFile opens the store in the given database file and migrates it.
func OpenFile(ctx context.Context, path string, opts ...sqlstore.Option) (*sqlstore.Store, error) {
	db, err := sql.Open("sqlite", dsn(path, "FULL"))
	if err != nil {
		return nil, fmt.Errorf("open SQLite database %s: %w", path, err)
	}
	// SQLite has one writer at a time; a few connections let readers proceed under WAL.
	db.SetMaxOpenConns(4)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open SQLite database %s (is the directory writable?): %w", path, err)
	}
	// Request nonces commit with synchronous=NORMAL: in WAL mode that survives a crash of the
	// process (the OS keeps the write) and skips the flush that would otherwise cap signed
	// requests at one fsync each.
	relaxed, err := sql.Open("sqlite", dsn(path, "NORMAL"))
	if err != nil {
		db.Close()
		return nil, err
	}
	relaxed.SetMaxOpenConns(2)
	s, err := sqlstore.Open(ctx, db, Dialect, append([]sqlstore.Option{sqlstore.WithRelaxedDB(relaxed)}, opts...)...)
	if err != nil {
		db.Close()
		relaxed.Close()
		return nil, fmt.Errorf("SQLite store %s: %w", path, err)
	}
	return s, nil
}

// Snapshot writes a consistent copy of the database in dir to dest (which must not
// exist) while the hub may be writing: VACUUM INTO reads one transaction's snapshot (WAL
// readers do not block writers, nor writers them), so the copy holds every transaction
// committed before it started and nothing of any later one. The copy is compact and
// self-contained (no WAL).
func Snapshot(ctx context.Context, dir, dest string) error {
	src := filepath.Join(dir, FileName)
	if _, err := os.Stat(src); err != nil {
		return fmt.Errorf("no SQLite database to back up: %w", err)
	}
	db, err := sql.Open("sqlite", dsn(src, "FULL"))
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, `VACUUM INTO $1`, dest); err != nil {
		return fmt.Errorf("snapshot %s: %w", src, err)
	}
	return nil
}

// OpenReadOnly opens a database file (a snapshot) for reading only, without migrating it.
func OpenReadOnly(path string) (*sql.DB, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	q := url.Values{}
	q.Set("mode", "ro")
	return sql.Open("sqlite", "file:"+path+"?"+q.Encode())
}
