package log

import (
	"context"
	"errors"
	"fmt"

	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/ledger/verify"
)

// CheckHead checks that the log extends h: the log holds at least h.Size records and its
// tree at that size has h's root (RFC 6962 consistency from h to everything committed).
// A log restored from a backup is checked this way against the head its backup recorded;
// what says which head is the caller's concern (the signature is not checked here).
func (l *Log) CheckHead(ctx context.Context, h ledger.TreeHead, what string) error {
	if err := l.refresh(ctx); err != nil {
		return fmt.Errorf("check %s: %w", what, err)
	}
	cur := l.CurrentHead()
	if h.LogID != "" && h.LogID != cur.LogID {
		return &ledger.ProofError{Kind: "consistency", Size: h.Size, Err: fmt.Errorf("%s is of log %q, this log is %q", what, h.LogID, cur.LogID)}
	}
	if h.Size > cur.Size {
		return &ledger.ProofError{Kind: "consistency", Size: h.Size, Err: fmt.Errorf(
			"%s covers %d records but the log holds %d: records %d…%d are missing (the store was rolled back, e.g. restored from a backup older than %s)",
			what, h.Size, cur.Size, cur.Size, h.Size-1, what)}
	}
	p, err := l.ConsistencyProof(ctx, h.Size, cur.Size)
	if err != nil {
		return fmt.Errorf("check %s: %w", what, err)
	}
	if err := verify.HeadsConsistent(ledger.SignedTreeHead{TreeHead: h}, ledger.SignedTreeHead{TreeHead: cur}, p); err != nil {
		return fmt.Errorf("the log is not an extension of %s (size %d): %w", what, h.Size, err)
	}
	return nil
}

// CheckAnchored checks the log against the latest head its anchorer holds (the embedded
// chain, or the Fabric channel beyond the hub): a store rolled back behind what was
// anchored, or rewritten, must not serve — appending would fork the anchored history.
// Nothing anchored yet is fine.
func (l *Log) CheckAnchored(ctx context.Context, a ledger.Anchorer) error {
	if a == nil {
		return nil
	}
	latest, err := a.Latest(ctx)
	if errors.Is(err, ledger.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read the latest anchor: %w", err)
	}
	return l.CheckHead(ctx, latest.Head.TreeHead, fmt.Sprintf("the head anchored in block %d", latest.Height))
}
