package verify_test

import (
	"context"
	"crypto/rand"
	"fmt"

	"github.com/emmansun/gmsm/sm2"

	"github.com/gxhub/gxhub/ledger/embedded"
	"github.com/gxhub/gxhub/ledger/ledgertest"
	"github.com/gxhub/gxhub/ledger/log"
	"github.com/gxhub/gxhub/ledger/memory"
	"github.com/gxhub/gxhub/ledger/sm2sig"
	"github.com/gxhub/gxhub/ledger/verify"
)

// An auditor checks one record offline: it is in a signed head, and that
// head is extended by an anchored one.
func ExampleVerifyReceipt() {
	ctx := context.Background()
	// The hub side: a log with 10 records, a head, an anchor.
	key, _ := sm2.GenerateKey(rand.Reader)
	signer, _ := sm2sig.NewSigner(key)
	st := memory.New()
	l, _ := log.New(ctx, st, signer, log.DefaultConfig("gxhub.example/audit"))
	defer l.Close(ctx)
	for i := range 10 {
		_, _ = l.Append(ctx, ledgertest.Record(i))
	}
	head, _ := l.SignHead(ctx)
	anchorer, _ := embedded.New(st, signer)
	anchor, _ := l.AnchorLatest(ctx, anchorer)
	entry, _ := l.GetRecord(ctx, 3)
	p, _ := l.InclusionProof(ctx, 3, head.Size)

	// The auditor side: only the receipt and the hub's public key.
	hubKey, _ := sm2sig.NewVerifier(&key.PublicKey)
	keys := verify.Keys{Log: hubKey, Anchor: hubKey}
	rec, err := verify.VerifyReceipt(keys, verify.Receipt{
		Index: 3, Leaf: entry.Leaf, Proof: p, Head: head, Anchor: &anchor,
	})
	fmt.Println(rec.Case, rec.Outcome, err)
	// Output: CASE-000003 denied <nil>
}
