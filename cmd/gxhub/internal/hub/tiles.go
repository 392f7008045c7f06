package hub

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/ledger/tiles"
	"github.com/gxhub/gxhub/ledger/witness"
)

// checkpointCache keeps the latest signed checkpoint: /checkpoint is public, so each head
// is signed once, not once per request.
type checkpointCache struct {
	mu   sync.Mutex
	at   witness.Checkpoint
	note []byte
}

// latestCheckpoint is the checkpoint the hub publishes: with witnesses configured, the
// latest one they cosigned (with the cosignatures: the state the witnesses vouch for, as
// a witnessed log publishes it); otherwise, or before any cosignature, the latest signed
// tree head's.
func (h *Hub) latestCheckpoint(ctx context.Context) ([]byte, error) {
	a := h.Audit
	if h.Witnesses != nil {
		if note, _, err := h.Witnesses.Cosigned(ctx); err == nil {
			return note, nil
		}
	}
	sth, err := a.Storage.LatestHead(ctx)
	if errors.Is(err, ledger.ErrNotFound) {
		if sth, err = a.Log.SignHead(ctx); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	cp := witness.FromHead(sth.TreeHead)
	c := &a.checkpoint
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.note == nil || c.at.Size != cp.Size || !bytes.Equal(c.at.Root, cp.Root) {
		note, err := a.Checkpoints.SignCheckpoint(ctx, cp)
		if err != nil {
			return nil, fmt.Errorf("sign the checkpoint: %w", err)
		}
		c.at, c.note = cp, note
	}
	return c.note, nil
}

// tilesHandler serves the audit log read-only in the C2SP tlog-tiles layout: /checkpoint
// and /tile/<L>/<N>[.p/<W>] (hash tiles; entry bundles are refused, see ledger/tiles).
func (h *Hub) tilesHandler() http.Handler {
	return &tiles.Server{Storage: h.Audit.Storage, Checkpoint: h.latestCheckpoint, Logger: h.Log}
}
