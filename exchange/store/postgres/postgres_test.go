package postgres_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/ledger/embedded"
	"github.com/gxhub/gxhub/ledger/ledgertest"

	"github.com/gxhub/gxhub/exchange/store"
	"github.com/gxhub/gxhub/exchange/store/postgres"
	"github.com/gxhub/gxhub/exchange/store/postgres/pgtest"
	"github.com/gxhub/gxhub/exchange/store/sqlstore"
	"github.com/gxhub/gxhub/exchange/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := postgres.Open(context.Background(), pgtest.FreshSchemaDSN(t))
		require.NoError(t, err)
		return s
	})
}

func TestConcurrentMigration(t *testing.T) {
	dsn := pgtest.FreshSchemaDSN(t)
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

func TestLedgerStorageConformance(t *testing.T) {
	ledgertest.RunStorage(t, func(t *testing.T) ledger.Storage {
		s, err := postgres.Open(context.Background(), pgtest.FreshSchemaDSN(t))
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		return s.LedgerStorage("test.gxhub/audit")
	})
}

func TestEmbeddedAnchorerOnSQL(t *testing.T) {
	ledgertest.RunAnchorer(t, func(t *testing.T) ledger.Anchorer {
		s, err := postgres.Open(context.Background(), pgtest.FreshSchemaDSN(t))
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		a, err := embedded.New(s.LedgerStorage("test.gxhub/audit"), ledgertest.Signer(t, "anchor"),
			embedded.WithHeadVerifier(ledgertest.Verifier(t, ledgertest.LogKeyName)))
		require.NoError(t, err)
		return a
	}, ledgertest.WithAnchorKey(ledgertest.Verifier(t, "anchor")))
}
