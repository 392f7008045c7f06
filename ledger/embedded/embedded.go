// Package embedded is the default [ledger.Anchorer]: a single-node hash chain
// of SM2-signed blocks kept in the hub's own store through
// [ledger.AnchorStorage]. Block n holds its height, the hash of block n-1,
// the anchored signed tree head, the consistency proof from the previous
// anchored head, the time and the anchoring key's signature (see
// [ledger.Anchor.SignedBytes]); its hash is SM3 of those bytes. The chain
// verifies offline with verify.AnchorChain.
//
// It gives tamper evidence against anyone who cannot forge the anchoring
// key; against the hub operator itself it is only as strong as the external
// copies of heads and blocks that auditors keep. Use the Fabric anchorer
// when several departments must hold the ledger.
package embedded

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/ledger/sm3hash"
	"github.com/gxhub/gxhub/ledger/verify"
)

// Anchorer is the embedded anchor chain.
type Anchorer struct {
	store   ledger.AnchorStorage
	signer  ledger.Signer
	headKey ledger.Verifier
	now     func() time.Time
	mu      sync.Mutex
}

var _ ledger.Anchorer = (*Anchorer)(nil)

// Option configures an [Anchorer].
type Option func(*Anchorer)

// WithHeadVerifier makes Anchor refuse heads whose signature does not verify
// with v (the log's key). Recommended in production.
func WithHeadVerifier(v ledger.Verifier) Option { return func(a *Anchorer) { a.headKey = v } }

// WithClock sets the clock used for block times. Default time.Now.
func WithClock(now func() time.Time) Option { return func(a *Anchorer) { a.now = now } }

// New returns an Anchorer storing blocks in store and signing them with
// signer.
func New(store ledger.AnchorStorage, signer ledger.Signer, opts ...Option) (*Anchorer, error) {
	if store == nil || signer == nil {
		return nil, fmt.Errorf("%w: embedded anchorer needs a store and a signer", ledger.ErrInvalid)
	}
	a := &Anchorer{store: store, signer: signer, now: time.Now}
	for _, o := range opts {
		o(a)
	}
	return a, nil
}

// Anchor implements [ledger.Anchorer].
func (a *Anchorer) Anchor(ctx context.Context, head ledger.SignedTreeHead, consistency [][]byte) (ledger.Anchor, error) {
	if err := head.Validate(); err != nil {
		return ledger.Anchor{}, fmt.Errorf("anchor: %w", err)
	}
	if a.headKey != nil {
		if err := verify.Head(a.headKey, head); err != nil {
			return ledger.Anchor{}, fmt.Errorf("anchor: %w", err)
		}
	}
	// One writer at a time in this process; other processes are caught by
	// PutAnchor's height check (ErrConflict).
	a.mu.Lock()
	defer a.mu.Unlock()
	block := ledger.Anchor{Height: 1, Head: head, KeyID: a.signer.KeyID(), Time: a.now().UTC().Truncate(time.Microsecond)}
	last, err := a.store.LatestAnchor(ctx)
	switch {
	case errors.Is(err, ledger.ErrNotFound):
		if len(consistency) != 0 {
			return ledger.Anchor{}, fmt.Errorf("%w: first anchor must come without a consistency proof", ledger.ErrInvalid)
		}
	case err != nil:
		return ledger.Anchor{}, fmt.Errorf("anchor: read latest block: %w", err)
	default:
		if last.Head.LogID != head.LogID {
			return ledger.Anchor{}, fmt.Errorf("%w: chain anchors log %q, head is of log %q", ledger.ErrInvalid, last.Head.LogID, head.LogID)
		}
		if ledger.SameHead(last.Head.TreeHead, head.TreeHead) {
			return last, nil
		}
		if err := verify.HeadsConsistent(last.Head, head, consistency); err != nil {
			return ledger.Anchor{}, fmt.Errorf("anchor: refusing head of size %d: %w", head.Size, err)
		}
		block.Height = last.Height + 1
		block.PrevHash = last.Hash
		block.Consistency = consistency
	}
	msg, err := block.SignedBytes()
	if err != nil {
		return ledger.Anchor{}, fmt.Errorf("anchor: %w", err)
	}
	if block.Signature, err = a.signer.Sign(ctx, msg); err != nil {
		return ledger.Anchor{}, fmt.Errorf("anchor: sign block %d: %w", block.Height, err)
	}
	block.Hash = sm3hash.Sum(msg)
	block.Ref = fmt.Sprintf("embedded:%d", block.Height)
	if err := a.store.PutAnchor(ctx, block); err != nil {
		return ledger.Anchor{}, fmt.Errorf("anchor: store block %d: %w", block.Height, err)
	}
	return block, nil
}

// Latest implements [ledger.Anchorer].
func (a *Anchorer) Latest(ctx context.Context) (ledger.Anchor, error) {
	return a.store.LatestAnchor(ctx)
}

// Get implements [ledger.Anchorer].
func (a *Anchorer) Get(ctx context.Context, height uint64) (ledger.Anchor, error) {
	return a.store.GetAnchor(ctx, height)
}

// BySize implements [ledger.Anchorer].
func (a *Anchorer) BySize(ctx context.Context, treeSize uint64) (ledger.Anchor, error) {
	return a.store.AnchorBySize(ctx, treeSize)
}
