package hub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/gxhub/gxhub/cmd/gxhub/internal/backup"
	"github.com/gxhub/gxhub/exchange/server"
	"github.com/gxhub/gxhub/exchange/store"
	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/ledger/embedded"
	"github.com/gxhub/gxhub/ledger/fabric"
	ledgerlog "github.com/gxhub/gxhub/ledger/log"
	"github.com/gxhub/gxhub/ledger/sm2sig"
	"github.com/gxhub/gxhub/ledger/sm3hash"
)

// Audit is the hub's audit ledger: the SM3 Merkle log in the store, its SM2 signer, the
// anchorer (the embedded anchor chain, or Fabric with anchor: fabric), and the keyed hash
// for data subjects.
type Audit struct {
	LogID      string
	Log        *ledgerlog.Log
	Storage    ledger.Storage
	Anchorer   ledger.Anchorer
	Signer     *sm2sig.Signer
	SubjectKey ledger.SubjectKeyFunc
	// Index is the query index of the log's records (C4); nil if the store has none.
	Index store.AuditIndex
	// Tampering collects the records found not to match the log's tree (/readyz, metric).
	Tampering *server.Tampering
}

// wireAuditQueries gives the audit service what its searches, anomaly flags and subject
// usage view need: the index, the subject keyer, the store and the clock.
func (h *Hub) wireAuditQueries(s *server.Audit) {
	s.Index, s.SubjectKey, s.Store, s.Now, s.Calendar = h.Audit.Index, h.Audit.SubjectKey, h.Store, h.now, h.Calendar
}

func (h *Hub) openAudit(ctx context.Context) error {
	cfg := h.Config
	key, err := h.Keys.SM2(filepath.Join(cfg.DataDir, "ca", "hub-signing-key.pem"))
	if err != nil {
		return fmt.Errorf("hub signing key: %w", err)
	}
	h.SigningKey = key
	signer, err := sm2sig.NewSigner(key)
	if err != nil {
		return err
	}
	subjectKeyPath := cfg.SubjectKeyFile
	if subjectKeyPath == "" {
		subjectKeyPath = filepath.Join(cfg.DataDir, "ca", "subject-key")
	}
	// Every replica sharing a database must use the same subject key file (and password).
	secret, err := h.Keys.Secret(subjectKeyPath, 32)
	if err != nil {
		return fmt.Errorf("subject key: %w", err)
	}
	keyer, err := sm3hash.SubjectKeyer(secret)
	if err != nil {
		return err
	}
	verifier, err := sm2sig.NewVerifier(&key.PublicKey)
	if err != nil {
		return err
	}
	storage := h.Store.LedgerStorage(cfg.AuditLogID)
	var anchorer ledger.Anchorer
	switch cfg.Anchor {
	case "fabric":
		// Anchoring runs in the log's background publisher, never on a request path.
		fa, err := fabric.New(ctx, fabric.Config{NetworkFile: cfg.FabricNetwork, LogID: cfg.AuditLogID, LogPublicKey: &key.PublicKey},
			fabric.WithLogger(h.Log))
		if err != nil {
			return fmt.Errorf("fabric anchorer: %w", err)
		}
		anchorer = fa
	default:
		if anchorer, err = embedded.New(storage, signer, embedded.WithHeadVerifier(verifier), embedded.WithClock(h.now)); err != nil {
			return fmt.Errorf("embedded anchorer: %w", err)
		}
	}
	lcfg := ledgerlog.DefaultConfig(cfg.AuditLogID)
	lcfg.HeadInterval = cfg.AuditHeadInterval
	lcfg.Anchorer = anchorer
	lcfg.Logger = h.Log
	lcfg.Now = h.now
	// Every record appended while serving a signed request names the authenticated
	// operator and commits to the request's envelope, kept as evidence (E5, E6).
	lcfg.Attribute = server.RequestAttribution{Evidence: h.Store.Evidence()}.Attribute
	lg, err := ledgerlog.New(ctx, storage, signer, lcfg)
	if err != nil {
		closeAnchorer(anchorer)
		return fmt.Errorf("open audit log %s: %w", cfg.AuditLogID, err)
	}
	h.Audit = &Audit{LogID: cfg.AuditLogID, Log: lg, Storage: storage, Anchorer: anchorer, Signer: signer, SubjectKey: keyer}
	if err := h.checkLogAgainstCheckpoints(ctx); err != nil {
		cerr := h.closeAudit()
		h.Audit = nil
		return errors.Join(err, cerr)
	}
	// The index is derived from the leaves; a database from before it existed gains it here.
	if st, ok := h.Store.(interface{ AuditIndex(string) store.AuditIndex }); ok {
		h.Audit.Index = st.AuditIndex(cfg.AuditLogID)
		n, err := h.Audit.Index.Backfill(ctx)
		if err != nil {
			cerr := h.closeAudit()
			h.Audit = nil
			return errors.Join(fmt.Errorf("backfill the audit index of %s: %w", cfg.AuditLogID, err), cerr)
		}
		if n > 0 {
			h.Log.InfoContext(ctx, "audit index backfilled", "log", cfg.AuditLogID, "records", n)
		}
	}
	return nil
}

// checkLogAgainstCheckpoints refuses a log that is not an extension of the latest head
// the anchorer holds (a store rolled back, or rewritten: appending would fork the
// anchored history) and, on the first start after a restore, of the signed head the
// backup recorded (its manifest, left by gxhub restore).
func (h *Hub) checkLogAgainstCheckpoints(ctx context.Context) error {
	lg := h.Audit.Log
	if err := lg.CheckAnchored(ctx, h.Audit.Anchorer); err != nil {
		return fmt.Errorf("audit log %s: %w. The hub will not serve (nor append to) a log behind its anchor: restore a backup taken after that anchor, or recover the missing records", h.Audit.LogID, err)
	}
	m, err := backup.ReadMarker(h.Config.DataDir)
	if err != nil || m == nil {
		return err
	}
	if m.LogID != h.Audit.LogID {
		return fmt.Errorf("the data directory was restored from a backup of log %q; this hub serves %q (audit_log_id)", m.LogID, h.Audit.LogID)
	}
	if err := lg.CheckHead(ctx, m.Head.TreeHead, "the backup's signed head"); err != nil {
		return fmt.Errorf("restored audit log %s: %w", h.Audit.LogID, err)
	}
	h.Log.InfoContext(ctx, "restored audit log is consistent with the backup's signed head and the latest anchor",
		slog.Uint64("backup_head_size", m.Head.Size), slog.Uint64("log_size", lg.Size()), slog.Time("backup_created", m.CreatedAt))
	h.step("restored audit log checked: consistent with the backup's head (%d records) and the latest anchor", m.Head.Size)
	return backup.MarkChecked(h.Config.DataDir)
}

func (h *Hub) closeAudit() error {
	if h.Audit == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return errors.Join(h.Audit.Log.Close(ctx), closeAnchorer(h.Audit.Anchorer))
}

// closeAnchorer closes an anchorer holding connections (Fabric's).
func closeAnchorer(a ledger.Anchorer) error {
	if c, ok := a.(interface{ Close() error }); ok {
		return c.Close()
	}
	return nil
}
