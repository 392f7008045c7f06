package postgres_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/exchange/store"
	"github.com/gxhub/gxhub/exchange/store/postgres"
	"github.com/gxhub/gxhub/exchange/store/sqlstore"
	"github.com/gxhub/gxhub/exchange/store/storetest"
)

// DefaultDSN is used when GXHUB_TEST_POSTGRES is unset.
const DefaultDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// freshSchemaDSN creates an empty schema for one test and returns a DSN that uses it.
// Without a reachable server the test is skipped loudly, except under CI=true where a
// missing PostgreSQL fails the run.
func freshSchemaDSN(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv("GXHUB_TEST_POSTGRES")
	if dsn == "" {
		dsn = DefaultDSN
	}
	db, err := sql.Open("pgx", dsn)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	if err := db.Ping(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL is required under CI=true but %s is unreachable: %v", dsn, err)
		}
		t.Skipf("SKIPPING PostgreSQL conformance: %s unreachable (%v); set GXHUB_TEST_POSTGRES", dsn, err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "gxtest_" + hex.EncodeToString(b)
	_, err = db.Exec(`CREATE SCHEMA ` + schema)
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = db.Exec(`DROP SCHEMA ` + schema + ` CASCADE`) })
	u, err := url.Parse(dsn)
	require.NoError(t, err)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := postgres.Open(context.Background(), freshSchemaDSN(t))
		require.NoError(t, err)
		return s
	})
}

func TestConcurrentMigration(t *testing.T) {
	dsn := freshSchemaDSN(t)
	ctx := context.Background()
	errs := make(chan error, 3)
	stores := make(chan store.Store, 3)
	for range 3 {
		go func() {
			s, err := postgres.Open(ctx, dsn)
			errs <- err
			stores <- s
		}()
	}
	for range 3 {
		require.NoError(t, <-errs, "replicas migrating at once must all succeed")
		s := <-stores
		v, err := s.SchemaVersion(ctx)
		require.NoError(t, err)
		require.Equal(t, sqlstore.LatestSchemaVersion(), v)
		s.Close()
	}
}

func TestOpenUnreachable(t *testing.T) {
	_, err := postgres.Open(context.Background(), "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=2")
	require.ErrorContains(t, err, "connect to PostgreSQL")
}
