package log_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/ledger/ledgertest"
	"github.com/gxhub/gxhub/ledger/log"
	"github.com/gxhub/gxhub/ledger/memory"
	"github.com/gxhub/gxhub/ledger/verify"
)

// TestSharedStorageWriters runs three Logs on one storage (hub replicas on one database):
// concurrent appends through all of them all succeed at distinct indices, and every Log
// then serves every record, proof and head of the one shared log.
func TestSharedStorageWriters(t *testing.T) {
	ctx := context.Background()
	s := memory.New()
	logs := []*log.Log{newLog(t, s, nil), newLog(t, s, nil), newLog(t, s, nil)}
	const perWriter = 40
	var (
		mu    sync.Mutex
		index = map[uint64]int{} // log index → record number
		wg    sync.WaitGroup
	)
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := logs[w%len(logs)]
			for k := range perWriter {
				n := w*perWriter + k
				i, err := l.Append(ctx, ledgertest.Record(n))
				require.NoError(t, err)
				mu.Lock()
				_, dup := index[i]
				require.False(t, dup, "index %d given twice", i)
				index[i] = n
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	const total = 6 * perWriter
	require.Len(t, index, total)

	var heads []ledger.SignedTreeHead
	for _, l := range logs {
		sth, err := l.SignHead(ctx)
		require.NoError(t, err, "every writer signs the shared head")
		require.Equal(t, uint64(total), sth.Size)
		heads = append(heads, sth)
	}
	v := ledgertest.Verifier(t, ledgertest.LogKeyName)
	require.NoError(t, verify.Heads(v, heads))
	var leaves [][]byte
	for i := range uint64(total) {
		want := ledgertest.Record(index[i])
		for _, l := range logs {
			e, err := l.GetRecord(ctx, i)
			require.NoError(t, err)
			require.Equal(t, want.Case, e.Record.Case)
			p, err := l.InclusionProof(ctx, i, total)
			require.NoError(t, err)
			require.NoError(t, verify.Record(v, heads[0], i, e.Record, p))
		}
		e, _ := logs[0].GetRecord(ctx, i)
		leaves = append(leaves, e.Leaf)
	}
	require.NoError(t, verify.Contents(v, heads[0], leaves))
}

// TestUnexplainedConflictIsNotRetried: a conflict that the stored tree does not explain
// (no other writer moved the log past this one) fails the batch at once: committing again
// would only meet it again.
func TestUnexplainedConflictIsNotRetried(t *testing.T) {
	ctx := context.Background()
	cs := &countingStorage{Storage: memory.New()}
	l := newLog(t, cs, nil)
	_, err := l.Append(ctx, ledgertest.Record(1))
	require.NoError(t, err)
	e := fmt.Errorf("%w: stored state differs", ledger.ErrConflict)
	cs.fail.Store(&e)
	before := cs.appends.Load()
	_, err = l.Append(ctx, ledgertest.Record(2))
	require.ErrorIs(t, err, ledger.ErrConflict)
	require.Equal(t, int64(1), cs.appends.Load()-before, "one attempt, no retry")
	cs.fail.Store(nil)
	i, err := l.Append(ctx, ledgertest.Record(3))
	require.NoError(t, err)
	require.Equal(t, uint64(1), i, "the failed batch left no trace")
}
