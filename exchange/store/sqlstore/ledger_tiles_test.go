package sqlstore_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/exchange/store/postgres"
	"github.com/gxhub/gxhub/exchange/store/postgres/pgtest"
	"github.com/gxhub/gxhub/exchange/store/sqlite"
	"github.com/gxhub/gxhub/exchange/store/sqlstore"
	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/ledger/ledgertest"
	ledgerlog "github.com/gxhub/gxhub/ledger/log"
	"github.com/gxhub/gxhub/ledger/memory"
	"github.com/gxhub/gxhub/ledger/verify"
)

const convertLog = "test/convert"

// oldFormat turns the freshly opened store s into one from before migration 165 holding
// the log of mem: the leaves and nodes one row each in the tables of migration 10, its
// size, the migrations 165 and 166 not applied (with after165, as it is once 165 was).
func oldFormat(t *testing.T, s *sqlstore.Store, mem *memory.Storage, after165 bool) {
	ctx := context.Background()
	db := s.DB()
	exec := func(q string, args ...any) {
		t.Helper()
		_, err := db.ExecContext(ctx, q, args...)
		require.NoError(t, err, q)
	}
	blob := s.Dialect().Blob
	int64t := s.Dialect().Int64
	if after165 {
		exec(`CREATE TABLE ledger_tiles_convert (log_id TEXT PRIMARY KEY, next_idx ` + int64t + ` NOT NULL)`)
		exec(`DELETE FROM schema_migrations WHERE version = 166`)
	} else {
		exec(`DROP TABLE ledger_bundles`)
		exec(`DROP TABLE ledger_tiles`)
		exec(`DELETE FROM schema_migrations WHERE version IN (165, 166)`)
	}
	exec(`CREATE TABLE ledger_leaves (log_id TEXT NOT NULL, idx ` + int64t + ` NOT NULL, leaf ` + blob + ` NOT NULL, PRIMARY KEY (log_id, idx))`)
	exec(`CREATE TABLE ledger_nodes (log_id TEXT NOT NULL, level INTEGER NOT NULL, idx ` + int64t + ` NOT NULL, hash ` + blob + ` NOT NULL, PRIMARY KEY (log_id, level, idx))`)
	size, err := mem.Size(ctx)
	require.NoError(t, err)
	leaves, err := mem.ReadLeaves(ctx, 0, size)
	require.NoError(t, err)
	tx, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	for i, leaf := range leaves {
		_, err := tx.ExecContext(ctx, `INSERT INTO ledger_leaves (log_id, idx, leaf) VALUES ($1, $2, $3)`, convertLog, int64(i), leaf)
		require.NoError(t, err)
	}
	nodes := 0
	for level := uint8(0); uint64(1)<<level <= size; level++ {
		for idx := uint64(0); (idx+1)<<level <= size; idx++ {
			h, err := mem.ReadNodes(ctx, []ledger.NodeID{{Level: level, Index: idx}})
			require.NoError(t, err)
			_, err = tx.ExecContext(ctx, `INSERT INTO ledger_nodes (log_id, level, idx, hash) VALUES ($1, $2, $3, $4)`, convertLog, int(level), int64(idx), h[0])
			require.NoError(t, err)
			nodes++
		}
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO ledger_logs (log_id, size) VALUES ($1, $2)`, convertLog, int64(size))
	require.NoError(t, err)
	require.NoError(t, tx.Commit())
	t.Logf("old format: %d leaf rows, %d node rows", size, nodes)
}

// TestConvertOldLog converts a populated log from the tables of one row per leaf and per
// node into bundles and tiles, interrupted after its first step as by a crash, and proves
// the converted log consistent with its last signed head: the tree's root is that head's,
// every record reads back, and a consistency proof from that head to a later one verifies.
func TestConvertOldLog(t *testing.T) {
	for _, c := range []struct {
		name string
		open func(t *testing.T) func() (*sqlstore.Store, error)
	}{
		{"sqlite", func(t *testing.T) func() (*sqlstore.Store, error) {
			dir := t.TempDir()
			return func() (*sqlstore.Store, error) { return sqlite.Open(context.Background(), dir) }
		}},
		{"postgres", func(t *testing.T) func() (*sqlstore.Store, error) {
			dsn := pgtest.FreshSchemaDSN(t)
			return func() (*sqlstore.Store, error) { return postgres.Open(context.Background(), dsn) }
		}},
	} {
		for _, crash := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/crash=%v", c.name, crash), func(t *testing.T) {
				ctx := context.Background()
				open := c.open(t)
				signer := ledgertest.Signer(t, ledgertest.LogKeyName)
				v := ledgertest.Verifier(t, ledgertest.LogKeyName)

				// A log of 20,000 records (three conversion steps of 8,192) with heads along the way.
				const n = 20000
				mem := memory.New()
				cfg := ledgerlog.DefaultConfig(convertLog)
				cfg.CommitWindow = 0
				lg, err := ledgerlog.New(ctx, mem, signer, cfg)
				require.NoError(t, err)
				var heads []ledger.SignedTreeHead
				for i := range n {
					_, err := lg.Append(ctx, ledgertest.Record(i))
					require.NoError(t, err)
					if i == 99 || i == 9999 || i == n-1 {
						h, err := lg.SignHead(ctx)
						require.NoError(t, err)
						heads = append(heads, h)
					}
				}
				require.NoError(t, lg.Close(ctx))
				last := heads[len(heads)-1]

				s, err := open()
				require.NoError(t, err)
				oldFormat(t, s, mem, crash)
				st := s.LedgerStorage(convertLog)
				for _, h := range heads {
					require.NoError(t, st.PutHead(ctx, h))
				}
				if crash {
					// One step, then a crash: the next Open continues after it.
					done, err := sqlstore.ConvertStepForTest(ctx, s)
					require.NoError(t, err)
					require.False(t, done)
				}
				require.NoError(t, s.Close())

				s, err = open()
				require.NoError(t, err, "Open finishes the conversion")
				defer s.Close()
				var left int
				require.Error(t, s.DB().QueryRowContext(ctx, `SELECT count(*) FROM ledger_leaves`).Scan(&left), "the old tables are gone")
				st = s.LedgerStorage(convertLog)
				size, err := st.Size(ctx)
				require.NoError(t, err)
				require.Equal(t, uint64(n), size)
				want, err := mem.ReadLeaves(ctx, 0, n)
				require.NoError(t, err)
				got, err := st.ReadLeaves(ctx, 0, n)
				require.NoError(t, err)
				require.Equal(t, want, got, "every leaf moved")

				// The log opens on the converted storage (it checks the tree against the
				// latest signed head), its root is that head's, and it grows consistently.
				l2, err := ledgerlog.New(ctx, st, signer, cfg)
				require.NoError(t, err)
				defer l2.Close(ctx)
				cur := l2.CurrentHead()
				require.Equal(t, last.Size, cur.Size)
				require.Equal(t, last.Root, cur.Root, "the converted tree's root is the last signed head's")
				for _, i := range []uint64{0, 255, 256, 8191, 8192, 12345, n - 1} {
					e, err := l2.GetRecord(ctx, i)
					require.NoError(t, err)
					p, err := l2.InclusionProof(ctx, i, last.Size)
					require.NoError(t, err)
					require.NoError(t, verify.Inclusion(v, last, i, e.Leaf, p), "record %d", i)
				}
				var wg sync.WaitGroup
				errs := make([]error, 300)
				for i := range errs {
					wg.Add(1)
					go func() {
						defer wg.Done()
						_, errs[i] = l2.Append(ctx, ledgertest.Record(n+i))
					}()
				}
				wg.Wait()
				for _, err := range errs {
					require.NoError(t, err)
				}
				next, err := l2.SignHead(ctx)
				require.NoError(t, err)
				for _, old := range heads {
					p, err := l2.ConsistencyProof(ctx, old.Size, next.Size)
					require.NoError(t, err)
					require.NoError(t, verify.Consistency(v, old, next, p), "from the head of size %d", old.Size)
				}
			})
		}
	}
}
