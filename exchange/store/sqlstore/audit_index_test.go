package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/exchange/store/postgres"
	"github.com/gxhub/gxhub/exchange/store/postgres/pgtest"
	"github.com/gxhub/gxhub/exchange/store/sqlite"
	"github.com/gxhub/gxhub/exchange/store/sqlstore"
	"github.com/gxhub/gxhub/exchange/store/storetest"
)

// forgetIndex deletes a log's index rows and watermark, as in a database from before
// migration 11.
func forgetIndex(t *testing.T, s storetest.AuditStore, logID string) {
	storetest.ForgetAuditIndexSQL(t, s.(*sqlstore.Store).DB(), logID)
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

// TestAuditIndexFollowsLog: the background indexer brings the index up to the log
// without any reader asking, in transactions that move the watermark with the rows.
func TestAuditIndexFollowsLog(t *testing.T) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, t.TempDir())
	require.NoError(t, err)
	defer s.Close()
	const n = 1300 // more than two index transactions
	storetest.AppendAuditRecords(t, s.LedgerStorage(storetest.AuditLogID), n)
	var next, rows int64
	require.Eventually(t, func() bool {
		err := s.DB().QueryRowContext(ctx, `SELECT COALESCE(max(next_idx), 0) FROM audit_index_state WHERE log_id = $1`, storetest.AuditLogID).Scan(&next)
		return err == nil && next == n
	}, 20*time.Second, 10*time.Millisecond, "the indexer did not catch up with %d records", n)
	require.NoError(t, s.DB().QueryRowContext(ctx, `SELECT count(*) FROM audit_index WHERE log_id = $1`, storetest.AuditLogID).Scan(&rows))
	require.Equal(t, int64(n), rows)
}
