package testnet_test

import (
	"context"
	"crypto/ecdsa"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/ledger/fabric"
	"github.com/gxhub/gxhub/ledger/fabric/fabrictest"
	"github.com/gxhub/gxhub/ledger/ledgertest"
	ledgerlog "github.com/gxhub/gxhub/ledger/log"
	"github.com/gxhub/gxhub/ledger/memory"
	"github.com/gxhub/gxhub/ledger/verify"
)

// One network serves every test of this binary that can share it; TestMain
// tears it down. (TestFabricAnchoring and the conformance suite bring up
// their own: see below.)
var shared struct {
	once sync.Once
	dir  string
	net  *fabrictest.Network
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.net != nil {
		if err := shared.net.Down(); err != nil {
			fmt.Fprintln(os.Stderr, "tear down the shared Fabric network:", err)
			code = 1
		}
		if os.Getenv("GXHUB_TESTNET_KEEP") != "1" {
			_ = os.RemoveAll(shared.dir)
		}
	}
	os.Exit(code)
}

func sharedNetwork(t *testing.T) *fabrictest.Network {
	t.Helper()
	shared.once.Do(func() {
		shared.dir, shared.err = os.MkdirTemp("", "gxhub-fabric-shared-")
		if shared.err != nil {
			return
		}
		shared.net, shared.err = fabrictest.Up(context.Background(), shared.dir+"/run")
		if shared.net != nil {
			t.Logf("shared Fabric network up in %v", shared.net.Took.Round(time.Millisecond))
		}
	})
	require.NoError(t, shared.err)
	return shared.net
}

func newFabricAnchorer(t *testing.T, file, mspID, logID string, pub *ecdsa.PublicKey) *fabric.Anchorer {
	t.Helper()
	a, err := fabric.New(context.Background(), fabric.Config{NetworkFile: file, MSPID: mspID, LogID: logID, LogPublicKey: pub})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, a.Close()) })
	return a
}

// TestFabricAnchorerConformance runs ledgertest.RunAnchorer against the Fabric
// anchorer. The suite anchors heads of one fixed log id ("test/anchored-log")
// and wants an empty chain from every newAnchorer call; on Fabric a log's
// anchors live in the channel's world state for good, so each call gets a
// network of its own (about 12–16 s each). The suite is not weakened.
func TestFabricAnchorerConformance(t *testing.T) {
	fabrictest.SkipUnlessEnabled(t, "the Fabric anchorer conformance suite")
	pub := &ledgertest.Key(t, ledgertest.LogKeyName).PublicKey
	ledgertest.RunAnchorer(t, func(t *testing.T) ledger.Anchorer {
		n := fabrictest.Start(t)
		return newFabricAnchorer(t, n.File, "", "test/anchored-log", pub)
	})
}

// hubLog is a real audit log (memory storage) whose heads are anchored.
func hubLog(t *testing.T, logID string) *ledgerlog.Log {
	t.Helper()
	l, err := ledgerlog.New(context.Background(), memory.New(), ledgertest.Signer(t, "fabric-hub"), ledgerlog.DefaultConfig(logID))
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close(context.Background()) })
	return l
}

// TestFabricAnchorer anchors a real log's heads through the adapter, reads
// them back from the other department's peer, verifies the chain offline, and
// checks that the chaincode's refusals arrive as the ledger's errors.
func TestFabricAnchorer(t *testing.T) {
	fabrictest.SkipUnlessEnabled(t, "the Fabric anchorer test")
	n := sharedNetwork(t)
	ctx := context.Background()
	logID := fmt.Sprintf("gxhub.test/anchorer-%d", time.Now().UnixNano())
	key := ledgertest.Key(t, "fabric-hub")
	v := ledgertest.Verifier(t, "fabric-hub")
	dept1 := newFabricAnchorer(t, n.File, "Dept1MSP", logID, &key.PublicKey)
	dept2 := newFabricAnchorer(t, n.File, "Dept2MSP", logID, &key.PublicKey)
	lg := hubLog(t, logID)

	var anchored []ledger.Anchor
	rec := 0
	for _, k := range []int{3, 1, 5, 8} {
		for range k {
			_, err := lg.Append(ctx, ledgertest.Record(rec))
			require.NoError(t, err)
			rec++
		}
		_, err := lg.SignHead(ctx)
		require.NoError(t, err)
		anc, err := lg.AnchorLatest(ctx, dept1)
		require.NoError(t, err)
		require.Equal(t, uint64(rec), anc.Head.Size)
		require.Equal(t, uint64(len(anchored)+1), anc.Height)
		channel, txID, err := fabric.ParseRef(anc.Ref)
		require.NoError(t, err)
		require.Equal(t, "gxaudit", channel)
		require.NotEmpty(t, txID)
		anchored = append(anchored, anc)
	}

	t.Run("read back from the other department's peer", func(t *testing.T) {
		var chain []ledger.Anchor
		for h := uint64(1); h <= uint64(len(anchored)); h++ {
			a, err := dept2.Get(ctx, h)
			require.NoError(t, err)
			require.Equal(t, anchored[h-1].Ref, a.Ref)
			require.True(t, ledger.SameHead(anchored[h-1].Head.TreeHead, a.Head.TreeHead))
			chain = append(chain, a)
		}
		require.NoError(t, fabric.VerifyChain(v, chain))
		latest, err := dept2.Latest(ctx)
		require.NoError(t, err)
		require.Equal(t, uint64(rec), latest.Head.Size)
		bySize, err := dept2.BySize(ctx, 4)
		require.NoError(t, err)
		require.Equal(t, uint64(2), bySize.Height)
		_, err = dept2.BySize(ctx, 5)
		require.ErrorIs(t, err, ledger.ErrNotFound)
		_, err = dept2.Get(ctx, 99)
		require.ErrorIs(t, err, ledger.ErrNotFound)

		// A record's inclusion proof against the head read from the peer.
		idx := uint64(6)
		e, err := lg.GetRecord(ctx, idx)
		require.NoError(t, err)
		p, err := lg.InclusionProof(ctx, idx, latest.Head.Size)
		require.NoError(t, err)
		require.NoError(t, verify.Inclusion(v, latest.Head, idx, e.Leaf, p))
	})

	t.Run("a tampered chain does not verify", func(t *testing.T) {
		chain := append([]ledger.Anchor(nil), anchored...)
		chain[2].Consistency = nil
		require.ErrorIs(t, fabric.VerifyChain(v, chain), ledger.ErrVerification)
		chain = append([]ledger.Anchor(nil), anchored...)
		chain = append(chain[:1], chain[2:]...)
		require.ErrorIs(t, fabric.VerifyChain(v, chain), ledger.ErrVerification)
	})

	t.Run("refusals", func(t *testing.T) {
		// A forked log: same key, same size as an anchored head, other records.
		forked := hubLog(t, logID)
		for i := range 4 {
			_, err := forked.Append(ctx, ledgertest.Record(1000+i))
			require.NoError(t, err)
		}
		fh, err := forked.SignHead(ctx)
		require.NoError(t, err)
		_, err = dept1.Anchor(ctx, fh, nil)
		var fe *ledger.ForkError
		require.ErrorAs(t, err, &fe)
		require.True(t, ledger.SameHead(anchored[1].Head.TreeHead, fe.A.TreeHead), "the fork evidence holds the anchored head")
		require.True(t, ledger.SameHead(fh.TreeHead, fe.B.TreeHead))

		for range 20 {
			_, err := forked.Append(ctx, ledgertest.Record(2000))
			require.NoError(t, err)
		}
		big, err := forked.SignHead(ctx)
		require.NoError(t, err)
		_, err = dept1.Anchor(ctx, big, nil)
		require.ErrorIs(t, err, ledger.ErrInconsistent)

		old, err := dept2.BySize(ctx, 3)
		require.NoError(t, err)
		_, err = dept1.Anchor(ctx, old.Head, nil)
		require.ErrorIs(t, err, ledger.ErrInconsistent, "a smaller head")

		badSig := big
		badSig.Signature = append([]byte(nil), anchored[0].Head.Signature...)
		_, err = dept1.Anchor(ctx, badSig, nil)
		require.ErrorIs(t, err, ledger.ErrVerification)

		other := newFabricAnchorer(t, n.File, "", logID, &ledgertest.Key(t, "someone-else").PublicKey)
		_, err = other.Anchor(ctx, big, nil)
		require.ErrorIs(t, err, ledger.ErrInvalid, "the log is registered with another key")

		latest, err := dept1.Latest(ctx)
		require.NoError(t, err)
		require.Equal(t, anchored[len(anchored)-1].Ref, latest.Ref, "refusals anchored nothing")
	})

	t.Run("closed", func(t *testing.T) {
		a, err := fabric.New(ctx, fabric.Config{NetworkFile: n.File, LogID: logID, LogPublicKey: &key.PublicKey})
		require.NoError(t, err)
		require.NoError(t, a.Close())
		_, err = a.Latest(ctx)
		require.ErrorIs(t, err, ledger.ErrClosed)
		_, err = a.Anchor(ctx, anchored[0].Head, nil)
		require.ErrorIs(t, err, ledger.ErrClosed)
	})
}
