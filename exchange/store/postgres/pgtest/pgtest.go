// Package pgtest gives tests an empty PostgreSQL schema of their own.
package pgtest

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // "pgx" driver
)

// DefaultDSN is used when GXHUB_TEST_POSTGRES is unset.
const DefaultDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// FreshSchemaDSN creates an empty schema for one test, drops it at cleanup, and returns a
// DSN whose search_path is that schema. Without a reachable server the test is skipped
// loudly, except under CI=true where a missing PostgreSQL fails the run.
func FreshSchemaDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("GXHUB_TEST_POSTGRES")
	if dsn == "" {
		dsn = DefaultDSN
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatalf("GXHUB_TEST_POSTGRES %q: %v", dsn, err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Ping(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL is required under CI=true but %s is unreachable: %v", dsn, err)
		}
		t.Skipf("SKIPPING PostgreSQL test: %s unreachable (%v); set GXHUB_TEST_POSTGRES", dsn, err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "gxtest_" + hex.EncodeToString(b)
	if _, err := db.Exec(`CREATE SCHEMA ` + schema); err != nil {
		t.Fatalf("create test schema: %v", err)
	}
	t.Cleanup(func() { _, _ = db.Exec(`DROP SCHEMA ` + schema + ` CASCADE`) })
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("GXHUB_TEST_POSTGRES must be a postgres:// URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
