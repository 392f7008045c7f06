package sqlstore_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/exchange/store/postgres"
	"github.com/gxhub/gxhub/exchange/store/postgres/pgtest"
	"github.com/gxhub/gxhub/exchange/store/sqlite"
	"github.com/gxhub/gxhub/exchange/store/storetest"
)

func TestSessionsSQLite(t *testing.T) {
	storetest.RunSessions(t, func(t *testing.T) storetest.SessionStore {
		s, err := sqlite.Open(context.Background(), t.TempDir())
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		return s.Sessions()
	})
}

func TestSessionsPostgres(t *testing.T) {
	storetest.RunSessions(t, func(t *testing.T) storetest.SessionStore {
		s, err := postgres.Open(context.Background(), pgtest.FreshSchemaDSN(t))
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		return s.Sessions()
	})
}
