package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/ledger/embedded"
	"github.com/gxhub/gxhub/ledger/ledgertest"

	"github.com/gxhub/gxhub/exchange/store"
	"github.com/gxhub/gxhub/exchange/store/sqlite"
	"github.com/gxhub/gxhub/exchange/store/sqlstore"
	"github.com/gxhub/gxhub/exchange/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := sqlite.Open(context.Background(), t.TempDir())
		require.NoError(t, err)
		return s
	})
}

func TestReopenKeepsDataAndSchema(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := sqlite.Open(ctx, dir)
	require.NoError(t, err)
	d := storetest.Department(t, "110000", 7)
	require.NoError(t, s.Departments().Create(ctx, d))
	require.NoError(t, s.Close())

	s, err = sqlite.Open(ctx, dir)
	require.NoError(t, err)
	defer s.Close()
	got, err := s.Departments().Get(ctx, d.Code)
	require.NoError(t, err)
	require.Equal(t, d.Name, got.Name)
	v, err := s.SchemaVersion(ctx)
	require.NoError(t, err)
	require.Equal(t, sqlstore.LatestSchemaVersion(), v)
}

func TestOpenErrors(t *testing.T) {
	_, err := sqlite.OpenFile(context.Background(), filepath.Join(t.TempDir(), "missing-dir", "x.db"))
	require.ErrorContains(t, err, "SQLite")
}

func TestLedgerStorageConformance(t *testing.T) {
	ledgertest.RunStorage(t, func(t *testing.T) ledger.Storage {
		s, err := sqlite.Open(context.Background(), t.TempDir())
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		return s.LedgerStorage("test.gxhub/audit")
	})
}

func TestEmbeddedAnchorerOnSQL(t *testing.T) {
	ledgertest.RunAnchorer(t, func(t *testing.T) ledger.Anchorer {
		s, err := sqlite.Open(context.Background(), t.TempDir())
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		a, err := embedded.New(s.LedgerStorage("test.gxhub/audit"), ledgertest.Signer(t, "anchor"),
			embedded.WithHeadVerifier(ledgertest.Verifier(t, ledgertest.LogKeyName)))
		require.NoError(t, err)
		return a
	}, ledgertest.WithAnchorKey(ledgertest.Verifier(t, "anchor")))
}
