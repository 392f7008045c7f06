package storetest

import (
	"context"
	"database/sql"
	"flag"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/proof"

	"github.com/gxhub/gxhub/exchange/store"
	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/ledger/ledgertest"
	ledgerlog "github.com/gxhub/gxhub/ledger/log"
	"github.com/gxhub/gxhub/ledger/sm3hash"
	"github.com/gxhub/gxhub/ledger/verify"
)

var auditBenchSize = flag.Int("audit.benchsize", 100_000, "records in the SQL audit log the proof and search benchmarks run against")

// countingStorage counts storage writes (group commits).
type countingStorage struct {
	ledger.Storage
	writes atomic.Int64
}

func (c *countingStorage) AppendLeaves(ctx context.Context, start uint64, leaves [][]byte, nodes []ledger.Node) error {
	c.writes.Add(1)
	return c.Storage.AppendLeaves(ctx, start, leaves, nodes)
}

func benchLog(b *testing.B, st ledger.Storage, window time.Duration) *ledgerlog.Log {
	b.Helper()
	cfg := ledgerlog.DefaultConfig(auditLogID)
	cfg.CommitWindow = window
	cfg.MaxBatch = 4096
	l, err := ledgerlog.New(context.Background(), st, ledgertest.Signer(b, ledgertest.LogKeyName), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = l.Close(context.Background()) })
	return l
}

// BenchAuditAppend measures records appended per second through the group-committed
// ledger/log over the store's SQL ledger storage (leaves, nodes and audit index rows in one
// transaction per batch), from b.RunParallel with parallelism goroutines per GOMAXPROCS.
// It reports appends/s and records/write (the mean group-commit batch).
func BenchAuditAppend(b *testing.B, s AuditStore, window time.Duration, parallelism int) {
	ctx := context.Background()
	cs := &countingStorage{Storage: s.LedgerStorage(auditLogID)}
	l := benchLog(b, cs, window)
	recs := auditRecords(1024)
	var next atomic.Int64
	b.SetParallelism(parallelism)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1)
			if _, err := l.Append(ctx, recs[i%int64(len(recs))]); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
	if w := cs.writes.Load(); w > 0 {
		b.ReportMetric(float64(b.N)/float64(w), "records/write")
	}
}

// provenTree is a log of *auditBenchSize records on SQL storage with a signed head.
type provenTree struct {
	log  *ledgerlog.Log
	st   ledger.Storage
	ix   store.AuditIndex
	head ledger.SignedTreeHead
	size uint64
	subj ledger.SubjectKey
}

func buildTree(b *testing.B, s AuditStore) *provenTree {
	b.Helper()
	ctx := context.Background()
	st := s.LedgerStorage(auditLogID)
	l := benchLog(b, st, time.Millisecond)
	n := *auditBenchSize
	recs := auditRecords(1024)
	start := time.Now()
	var wg sync.WaitGroup
	var failed atomic.Bool
	work := make(chan int)
	for range 256 {
		wg.Go(func() {
			for i := range work {
				r := recs[i%len(recs)]
				r.Subject[1], r.Subject[2] = byte(i>>8), byte(i>>16) // n/4 … distinct subjects
				if _, err := l.Append(ctx, r); err != nil && !failed.Swap(true) {
					b.Error(err)
				}
			}
		})
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	if failed.Load() {
		b.FailNow()
	}
	head, err := l.SignHead(ctx)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("built a %d-record SQL audit log in %s", n, time.Since(start).Round(time.Millisecond))
	// The index follows the log; bring it up to date so that the searches measure searching.
	ix := s.AuditIndex(auditLogID)
	indexStart := time.Now()
	if _, err := ix.Backfill(ctx); err != nil {
		b.Fatal(err)
	}
	b.Logf("index caught up in %s", time.Since(indexStart).Round(time.Millisecond))
	subj := recs[5].Subject
	subj[1], subj[2] = byte(5>>8), 0
	return &provenTree{log: l, st: st, ix: ix, head: head, size: head.Size, subj: subj}
}

// BenchAuditProofs measures, on a tree of -audit.benchsize records in SQL storage:
// inclusion proof generation (node reads from the database), raw RFC 6962 verification,
// verification with the head's SM2 signature, consistency proof generation, and an
// index search by subject (the auditor's trace query).
func BenchAuditProofs(b *testing.B, s AuditStore) {
	t := buildTree(b, s)
	ctx := context.Background()
	n := t.size
	b.Run("inclusion/generate", func(b *testing.B) {
		rng := rand.New(rand.NewPCG(1, 2))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := t.log.InclusionProof(ctx, rng.Uint64N(n), n); err != nil {
				b.Fatal(err)
			}
		}
	})
	idx := n / 3
	leaves, err := t.st.ReadLeaves(ctx, idx, 1)
	if err != nil {
		b.Fatal(err)
	}
	p, err := t.log.InclusionProof(ctx, idx, n)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("inclusion/verify", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := proof.VerifyInclusion(sm3hash.Default, idx, n, sm3hash.Default.HashLeaf(leaves[0]), p, t.head.Root); err != nil {
				b.Fatal(err)
			}
		}
	})
	v := ledgertest.Verifier(b, ledgertest.LogKeyName)
	b.Run("inclusion/verify+head-signature", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := verify.Inclusion(v, t.head, idx, leaves[0], p); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("consistency/generate", func(b *testing.B) {
		rng := rand.New(rand.NewPCG(3, 4))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := t.log.ConsistencyProof(ctx, 1+rng.Uint64N(n-1), n); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("search/subject", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			es, err := t.ix.Search(ctx, store.AuditQuery{Subject: t.subj}, 0, 100)
			if err != nil {
				b.Fatal(err)
			}
			if len(es) == 0 {
				b.Fatal("subject not found")
			}
		}
	})
	b.Run("search/department+time", func(b *testing.B) {
		b.ReportAllocs()
		base := auditRecords(1)[0].Time
		for b.Loop() {
			if _, err := t.ix.Search(ctx, store.AuditQuery{Department: "dept-03", From: base, To: base.Add(2 * time.Hour)}, 0, 100); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchAuditIndexCatchUp measures how fast the audit index follower indexes records (the
// sustained rate the index can keep up with): it appends 20,000 records, and each
// iteration deletes the log's index rows and watermark from db (untimed) and times one
// catch-up of all of them. It reports records/s.
func BenchAuditIndexCatchUp(b *testing.B, s AuditStore, db *sql.DB) {
	const n = 20_000
	ctx := context.Background()
	AppendAuditRecords(b, s.LedgerStorage(auditLogID), n)
	ix := s.AuditIndex(auditLogID)
	if _, err := ix.Backfill(ctx); err != nil {
		b.Fatal(err)
	}
	var indexed int
	var took time.Duration
	for b.Loop() {
		b.StopTimer()
		ForgetAuditIndexSQL(b, db, auditLogID)
		b.StartTimer()
		start := time.Now()
		done, err := ix.Backfill(ctx)
		took += time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		if done != n {
			b.Fatalf("indexed %d of %d records", done, n)
		}
		indexed += done
	}
	b.ReportMetric(float64(indexed)/took.Seconds(), "records/s")
}
