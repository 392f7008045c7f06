package log_test

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"

	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/ledger/ledgertest"
	"github.com/gxhub/gxhub/ledger/log"
	"github.com/gxhub/gxhub/ledger/memory"
	"github.com/gxhub/gxhub/ledger/sm3hash"
	"github.com/gxhub/gxhub/ledger/verify"
)

var benchSize = flag.Int("ledger.benchsize", 1_000_000, "leaves in the tree the proof benchmarks run against")

// BenchmarkAppend measures group-committed appends on memory storage from
// many goroutines (b.RunParallel with 64 goroutines per CPU).
//
// The "fsync=1ms" cases add 1ms to every storage write, modelling a
// database that syncs its log on commit.
func BenchmarkAppend(b *testing.B) {
	for _, tc := range []struct {
		window, fsync time.Duration
	}{{0, 0}, {time.Millisecond, 0}, {2 * time.Millisecond, 0}, {0, time.Millisecond}, {time.Millisecond, time.Millisecond}, {2 * time.Millisecond, time.Millisecond}} {
		window := tc.window
		b.Run(fmt.Sprintf("window=%s/fsync=%s", tc.window, tc.fsync), func(b *testing.B) {
			ctx := context.Background()
			cs := &countingStorage{Storage: slowStorage{memory.New(), tc.fsync}}
			l := newLog(b, cs, func(c *log.Config) { c.CommitWindow = window; c.MaxBatch = 4096 })
			recs := make([]ledger.Record, 1024)
			for i := range recs {
				recs[i] = ledgertest.Record(i)
			}
			b.SetParallelism(64)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					if _, err := l.Append(ctx, recs[i%len(recs)]); err != nil {
						b.Error(err)
						return
					}
					i++
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
			b.ReportMetric(float64(b.N)/float64(cs.appends.Load()), "records/write")
		})
	}
}

type slowStorage struct {
	ledger.Storage
	delay time.Duration
}

func (s slowStorage) AppendLeaves(ctx context.Context, start uint64, leaves [][]byte, nodes []ledger.Node) error {
	if s.delay > 0 {
		time.Sleep(s.delay)
	}
	return s.Storage.AppendLeaves(ctx, start, leaves, nodes)
}

type bigTree struct {
	storage    *memory.Storage
	leafHashes [][]byte
	log        *log.Log
	head       ledger.SignedTreeHead
}

var (
	bigOnce sync.Once
	big     *bigTree
)

// loadBig bulk-loads benchSize leaves (canonical records) into memory
// storage in chunks, as the committer would, and opens a log over it.
func loadBig(b *testing.B) *bigTree {
	bigOnce.Do(func() {
		start := time.Now()
		ctx := context.Background()
		s := memory.New()
		rf := compact.RangeFactory{Hash: sm3hash.Default.HashChildren}
		r := rf.NewEmptyRange(0)
		n := *benchSize
		hashes := make([][]byte, 0, n)
		const chunk = 4096
		for at := 0; at < n; at += chunk {
			var leaves [][]byte
			var nodes []ledger.Node
			for i := at; i < min(at+chunk, n); i++ {
				leaf := leafOf(b, i)
				leaves = append(leaves, leaf)
				h := sm3hash.Default.HashLeaf(leaf)
				hashes = append(hashes, h)
				if err := r.Append(h, func(id compact.NodeID, h []byte) {
					nodes = append(nodes, ledger.Node{ID: ledger.NodeID{Level: uint8(id.Level), Index: id.Index}, Hash: h})
				}); err != nil {
					b.Fatal(err)
				}
			}
			if err := s.AppendLeaves(ctx, uint64(at), leaves, nodes); err != nil {
				b.Fatal(err)
			}
		}
		l, err := log.New(ctx, s, ledgertest.Signer(b, ledgertest.LogKeyName), log.DefaultConfig(logID))
		if err != nil {
			b.Fatal(err)
		}
		head, err := l.SignHead(ctx)
		if err != nil {
			b.Fatal(err)
		}
		big = &bigTree{storage: s, leafHashes: hashes, log: l, head: head}
		b.Logf("loaded %d leaves in %s", n, time.Since(start))
	})
	if big == nil {
		b.Fatal("big tree setup failed")
	}
	return big
}

func BenchmarkInclusionProof(b *testing.B) {
	t := loadBig(b)
	ctx := context.Background()
	n := t.head.Size
	rng := rand.New(rand.NewPCG(1, 2))
	b.Run(fmt.Sprintf("generate/stored-nodes/n=%d", n), func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := t.log.InclusionProof(ctx, rng.Uint64N(n), n); err != nil {
				b.Fatal(err)
			}
		}
	})
	// The rejected alternative: only leaf hashes stored, proof nodes
	// recomputed. Leaf hashes are taken from memory, the best case.
	b.Run(fmt.Sprintf("generate/recompute-from-leaf-hashes/n=%d", n), func(b *testing.B) {
		for b.Loop() {
			nodes, err := proof.Inclusion(rng.Uint64N(n), n)
			if err != nil {
				b.Fatal(err)
			}
			hs := make([][]byte, len(nodes.IDs))
			for i, id := range nodes.IDs {
				lo, hi := id.Coverage()
				hs[i] = subtree(t.leafHashes[lo:hi])
			}
			if _, err := nodes.Rehash(hs, sm3hash.Default.HashChildren); err != nil {
				b.Fatal(err)
			}
		}
	})
	v := ledgertest.Verifier(b, ledgertest.LogKeyName)
	idx := rng.Uint64N(n)
	p, err := t.log.InclusionProof(ctx, idx, n)
	if err != nil {
		b.Fatal(err)
	}
	leaf := leafOf(b, int(idx))
	b.Run(fmt.Sprintf("verify/merkle-only/n=%d", n), func(b *testing.B) {
		for b.Loop() {
			if err := proof.VerifyInclusion(sm3hash.Default, idx, n, sm3hash.Default.HashLeaf(leaf), p, t.head.Root); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run(fmt.Sprintf("verify/with-head-signature/n=%d", n), func(b *testing.B) {
		for b.Loop() {
			if err := verify.Inclusion(v, t.head, idx, leaf, p); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkConsistencyProof(b *testing.B) {
	t := loadBig(b)
	ctx := context.Background()
	n := t.head.Size
	rng := rand.New(rand.NewPCG(3, 4))
	b.Run(fmt.Sprintf("generate/n=%d", n), func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := t.log.ConsistencyProof(ctx, 1+rng.Uint64N(n-1), n); err != nil {
				b.Fatal(err)
			}
		}
	})
	size1 := n/3 + 7
	p, err := t.log.ConsistencyProof(ctx, size1, n)
	if err != nil {
		b.Fatal(err)
	}
	root1 := subtree(t.leafHashes[:size1])
	b.Run(fmt.Sprintf("verify/merkle-only/n=%d", n), func(b *testing.B) {
		for b.Loop() {
			if err := proof.VerifyConsistency(sm3hash.Default, size1, n, p, root1, t.head.Root); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// subtree computes the RFC 6962 hash of the given leaf hashes.
func subtree(hs [][]byte) []byte {
	if len(hs) == 1 {
		return hs[0]
	}
	k := 1
	for k*2 < len(hs) {
		k *= 2
	}
	return sm3hash.Default.HashChildren(subtree(hs[:k]), subtree(hs[k:]))
}
