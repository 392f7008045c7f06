package sqlstore_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/exchange/store/postgres"
	"github.com/gxhub/gxhub/exchange/store/postgres/pgtest"
	"github.com/gxhub/gxhub/exchange/store/sqlite"
	"github.com/gxhub/gxhub/exchange/store/sqlstore"
	"github.com/gxhub/gxhub/exchange/store/storetest"
)

// forgetIndex deletes a log's index rows, as in a database from before migration 11.
func forgetIndex(t *testing.T, s storetest.AuditStore, logID string) {
	_, err := s.(*sqlstore.Store).DB().ExecContext(context.Background(), `DELETE FROM audit_index WHERE log_id = $1`, logID)
	require.NoError(t, err)
}

func TestAuditIndexSQLite(t *testing.T) {
	storetest.RunAuditIndex(t, func(t *testing.T) storetest.AuditStore {
		s, err := sqlite.Open(context.Background(), t.TempDir())
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		return s
	}, forgetIndex)
}

func TestAuditIndexPostgres(t *testing.T) {
	storetest.RunAuditIndex(t, func(t *testing.T) storetest.AuditStore {
		s, err := postgres.Open(context.Background(), pgtest.FreshSchemaDSN(t))
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		return s
	}, forgetIndex)
}
