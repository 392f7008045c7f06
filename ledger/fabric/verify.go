package fabric

import (
	"fmt"

	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/ledger/verify"
)

// VerifyChain checks anchors read from a Fabric peer, in height order and
// contiguous: every head is signed by the log key v, and each head is
// proven consistent with the previous one by the block's consistency proof
// (so no anchored head forks or rewrites an earlier one). If the first
// anchor is at height 1 it must have no proof. Fabric anchors carry no
// hub-side block signature or hash link (see the package documentation), so
// this is the offline check that replaces verify.AnchorChain for them.
func VerifyChain(v ledger.Verifier, anchors []ledger.Anchor) error {
	for i, a := range anchors {
		if err := verify.Head(v, a.Head); err != nil {
			return &ledger.ChainError{Height: a.Height, Reason: "anchored head signature", Err: err}
		}
		if i == 0 {
			if a.Height == 1 && len(a.Consistency) != 0 {
				return &ledger.ChainError{Height: 1, Reason: "the first anchor carries a consistency proof"}
			}
			continue
		}
		prev := anchors[i-1]
		if a.Height != prev.Height+1 {
			return &ledger.ChainError{Height: a.Height, Reason: fmt.Sprintf("height follows %d", prev.Height)}
		}
		if a.Head.LogID != prev.Head.LogID {
			return &ledger.ChainError{Height: a.Height, Reason: fmt.Sprintf("log %q follows log %q", a.Head.LogID, prev.Head.LogID)}
		}
		if err := verify.HeadsConsistent(prev.Head, a.Head, a.Consistency); err != nil {
			return &ledger.ChainError{Height: a.Height, Reason: "not consistent with the previous anchored head", Err: err}
		}
	}
	return nil
}
