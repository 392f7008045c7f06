package hub

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/ledger/embedded"
	"github.com/gxhub/gxhub/ledger/sm2sig"
	"github.com/gxhub/gxhub/ledger/witness"
)

// witnessCollector builds the collector of the configured witnesses' cosignatures: the
// checkpoints are signed with the tree-head key (named by the log id), the cosignatures
// kept in the store next to the log.
func (h *Hub) witnessCollector(signer *sm2sig.Signer, key *sm.PrivateKey) (*witness.Collector, error) {
	cfg := h.Config
	cps, err := witness.NewSigner(cfg.AuditLogID, witness.TypeCheckpoint, signer, &key.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("checkpoint signer: %w", err)
	}
	st, ok := h.Store.(interface{ WitnessCosignatures(string) witness.Store })
	if !ok {
		return nil, fmt.Errorf("witnesses: the %s store keeps no cosignatures", cfg.Store.Driver)
	}
	ws, err := cfg.ParseWitnesses()
	if err != nil {
		return nil, err
	}
	c := &witness.Collector{Signer: cps, Store: st.WitnessCosignatures(cfg.AuditLogID), Logger: h.Log,
		Client: &http.Client{Timeout: 10 * time.Second}}
	for _, w := range ws {
		b, err := os.ReadFile(w.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("witness %s: its public key: %w", w.Name, err)
		}
		pub, err := sm.ParsePublicKeyPEM(b)
		if err != nil {
			return nil, fmt.Errorf("witness %s: its public key %s: %w", w.Name, w.KeyFile, err)
		}
		k, err := witness.NewKey(w.Name, witness.TypeCosignature, pub)
		if err != nil {
			return nil, fmt.Errorf("witness %s: %w", w.Name, err)
		}
		c.Witnesses = append(c.Witnesses, witness.Remote{URL: w.URL, Key: k})
	}
	return c, nil
}

// checkWitnesses is the start-up check against the witnesses: the log must extend the
// latest checkpoint cosigned by witnesses that the hub holds, and every witness that
// answers must cosign the current head — a witness that cosigned a larger log, or another
// one, makes the hub refuse to serve (the rollback attack: records deleted together with
// the heads and anchors above them).
func (h *Hub) checkWitnesses(ctx context.Context) error {
	if h.Witnesses == nil {
		return nil
	}
	lg := h.Audit.Log
	sth, err := lg.SignHead(ctx)
	if err != nil {
		return fmt.Errorf("audit log %s: sign the head to show the witnesses: %w", h.Audit.LogID, err)
	}
	h.step("asking %d audit witness(es) to cosign the log at %d records", len(h.Witnesses.Witnesses), sth.Size)
	err = h.Witnesses.CheckLog(ctx, sth.TreeHead, func(th ledger.TreeHead) error {
		return lg.CheckHead(ctx, th, "the latest checkpoint cosigned by witnesses")
	})
	if err != nil {
		return fmt.Errorf("audit log %s: %w. The hub will not serve a log smaller than, or different from, what its witnesses cosigned: "+
			"its store was rolled back or rewritten. Restore a backup that holds those records (gxhub restore) or recover them; "+
			"each witness keeps the evidence in its state directory (refused/)", h.Audit.LogID, err)
	}
	return nil
}

// KindHubKeys is the audit record of a change of the hub's own signing keys.
const KindHubKeys ledger.Kind = "hub.keys"

// rotateAnchorKey makes sure the latest embedded anchor block is signed by the anchor key:
// a data directory from before the hub had a separate anchor key ends its chain with a
// block signed by the tree-head key, which receipts must not carry. The change of keys is
// itself an audit record; the head that covers it is anchored under the new key at once.
func (h *Hub) rotateAnchorKey(ctx context.Context) error {
	if _, ok := h.Audit.Anchorer.(*embedded.Anchorer); !ok {
		return nil
	}
	anchorSigner, err := sm2sig.NewSigner(h.AnchorKey)
	if err != nil {
		return err
	}
	last, err := h.Audit.Anchorer.Latest(ctx)
	if err != nil || last.KeyID == anchorSigner.KeyID() {
		return nil // nothing anchored yet, or already the anchor key's
	}
	pullSigner, err := sm2sig.NewSigner(h.PullKey)
	if err != nil {
		return err
	}
	rec := ledger.Record{Kind: KindHubKeys, Time: h.now().UTC(), Department: "gxhub", Resource: "hub-keys", Outcome: ledger.OutcomeOK,
		Reason: fmt.Sprintf("separate keys: tree heads %s (unchanged), anchor blocks %s (was %s), pull responses %s",
			h.Audit.Signer.KeyID(), anchorSigner.KeyID(), last.KeyID, pullSigner.KeyID())}
	if _, err := h.Audit.Log.Append(ctx, rec); err != nil {
		return fmt.Errorf("record the hub's new keys in the audit log: %w", err)
	}
	if _, err := h.Audit.Log.SignHead(ctx); err != nil {
		return fmt.Errorf("sign the head that records the hub's new keys: %w", err)
	}
	b, err := h.Audit.Log.AnchorLatest(ctx, h.Audit.Anchorer)
	if err != nil {
		return fmt.Errorf("anchor the latest head with the anchor key: %w", err)
	}
	h.Log.InfoContext(ctx, "the embedded anchor chain continues under the hub's own anchor key", slog.Uint64("height", b.Height), slog.Uint64("size", b.Head.Size))
	return nil
}
