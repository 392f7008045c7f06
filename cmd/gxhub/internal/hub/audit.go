package hub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/emmansun/gmsm/smx509"

	"github.com/gxhub/gxhub/certs/keystore"
	"github.com/gxhub/gxhub/certs/pki"
	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/cmd/gxhub/internal/backup"
	"github.com/gxhub/gxhub/exchange/store"
	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/ledger/embedded"
	"github.com/gxhub/gxhub/ledger/fabric"
	ledgerlog "github.com/gxhub/gxhub/ledger/log"
	ledgerserver "github.com/gxhub/gxhub/ledger/server"
	"github.com/gxhub/gxhub/ledger/sm2sig"
	"github.com/gxhub/gxhub/ledger/sm3hash"
	"github.com/gxhub/gxhub/ledger/witness"
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
	// Keys are the published keys and certificates besides the tree-head key.
	Keys ledgerserver.AuditKeys
	// Index is the query index of the log's records (C4); nil if the store has none.
	Index store.AuditIndex
	// Writer is the one path of audited business writes: the write and its sealed audit
	// intent in one transaction, the record in the log before the answer (store.AuditWriter).
	Writer *store.AuditWriter
	// Tampering collects the records found not to match the log's tree (/readyz, metric).
	Tampering *ledgerserver.Tampering
	// Checkpoints signs the log's checkpoints (C2SP tlog-checkpoint) with the tree-head key,
	// named by the log id; the hub publishes the latest at /checkpoint with the tiles.
	Checkpoints *witness.Signer
	checkpoint  checkpointCache
}

// wireAuditQueries gives the audit service what its searches, anomaly flags and subject
// usage view need: the index, the subject keyer, the store and the clock.
func (h *Hub) wireAuditQueries(s *ledgerserver.Audit) {
	s.Index, s.SubjectKey, s.Store, s.Now, s.Calendar = h.Audit.Index, h.Audit.SubjectKey, h.Store, h.now, h.Calendar
}

// hubKeyCertValidity is the validity of the certificates of the hub's own signing keys.
const hubKeyCertValidity = 5 * 365 * 24 * time.Hour

// hubKey is one of the hub's own signing keys with its one-purpose certificate.
type hubKey struct {
	key  *sm.PrivateKey
	cert *smx509.Certificate
}

func (k hubKey) pem() (keyPEM, certPEM string, err error) {
	b, err := sm.MarshalPublicKeyPEM(&k.key.PublicKey)
	return string(b), string(pki.EncodeCertsPEM(k.cert)), err
}

// ensureHubKey loads DATA_DIR/ca/<name>-key.pem (kept by h.Keys like every hub key:
// encrypted with the CA password) and its certificate <name>-cert.pem for purpose p, creating
// either when missing — so a data directory from before the keys were separated gains
// its anchor and pull keys on its next start, and the tree-head key, unchanged, keeps
// verifying the heads it signed. A certificate that no longer matches the key or its
// purpose, or has expired, is issued again.
func (h *Hub) ensureHubKey(name string, p pki.Purpose) (hubKey, error) {
	dir := filepath.Join(h.Config.DataDir, "ca")
	key, err := h.Keys.SM2(filepath.Join(dir, name+"-key.pem"))
	if err != nil {
		return hubKey{}, fmt.Errorf("hub key for %s: %w", p, err)
	}
	certPath := filepath.Join(dir, name+"-cert.pem")
	roots, inter := []*smx509.Certificate{h.CA.Root.Cert}, []*smx509.Certificate{h.CA.Issuing.Cert}
	if b, err := os.ReadFile(certPath); err == nil {
		if certs, err := pki.ParseCertsPEM(b); err == nil && len(certs) > 0 && key.PublicKey.Equal(certs[0].PublicKey) &&
			pki.VerifyHubKeyCert(certs[0], p, roots, inter, h.now()) == nil {
			return hubKey{key: key, cert: certs[0]}, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return hubKey{}, err
	}
	// Valid from the issuing CA's start: the tree-head key of an existing data directory
	// signed heads before its certificate was made, and those heads must still verify.
	iss := h.CA.Issuing.Cert
	h.CA.mu.Lock()
	cert, err := h.CA.Issuing.IssueHubKeyCert(&key.PublicKey, p, iss.NotBefore, min(hubKeyCertValidity, iss.NotAfter.Sub(iss.NotBefore)))
	h.CA.mu.Unlock()
	if err != nil {
		return hubKey{}, fmt.Errorf("certify the hub key for %s: %w", p, err)
	}
	if err := keystore.WriteFile(certPath, pki.EncodeCertsPEM(cert), 0o644); err != nil {
		return hubKey{}, err
	}
	return hubKey{key: key, cert: cert}, nil
}

func (h *Hub) openAudit(ctx context.Context) error {
	cfg := h.Config
	// Three keys, one purpose each: tree heads (the original hub key file, so every head
	// signed before stays verifiable), embedded anchor blocks, pull responses.
	headKey, err := h.ensureHubKey("hub-signing", pki.PurposeTreeHead)
	if err != nil {
		return err
	}
	anchorKey, err := h.ensureHubKey("anchor-signing", pki.PurposeAnchor)
	if err != nil {
		return err
	}
	pullKey, err := h.ensureHubKey("pull-signing", pki.PurposePull)
	if err != nil {
		return err
	}
	key := headKey.key
	h.SigningKey, h.AnchorKey, h.PullKey = headKey.key, anchorKey.key, pullKey.key
	var keys ledgerserver.AuditKeys
	if _, keys.TreeHeadCertPEM, err = headKey.pem(); err != nil {
		return err
	}
	if keys.AnchorPEM, keys.AnchorCertPEM, err = anchorKey.pem(); err != nil {
		return err
	}
	if keys.PullPEM, keys.PullCertPEM, err = pullKey.pem(); err != nil {
		return err
	}
	keys.CAChainPEM = h.CA.ChainPEM()
	signer, err := sm2sig.NewSigner(key)
	if err != nil {
		return err
	}
	anchorSigner, err := sm2sig.NewSigner(anchorKey.key)
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
		if anchorer, err = embedded.New(storage, anchorSigner, embedded.WithHeadVerifier(verifier), embedded.WithClock(h.now)); err != nil {
			return fmt.Errorf("embedded anchorer: %w", err)
		}
	}
	lcfg := ledgerlog.DefaultConfig(cfg.AuditLogID)
	lcfg.HeadInterval = cfg.AuditHeadInterval
	lcfg.Anchorer = anchorer
	if len(cfg.Witnesses) > 0 {
		if h.Witnesses, err = h.witnessCollector(signer, key); err != nil {
			closeAnchorer(anchorer)
			return err
		}
	}
	lcfg.Logger = h.Log
	lcfg.Now = h.now
	// Every record appended while serving a signed request names the authenticated
	// operator and commits to the request's envelope, kept as evidence (E5, E6).
	lcfg.Attribute = ledgerserver.RequestAttribution{Evidence: h.Store.Evidence()}.Attribute
	lg, err := ledgerlog.New(ctx, storage, signer, lcfg)
	if err != nil {
		closeAnchorer(anchorer)
		return fmt.Errorf("open audit log %s: %w", cfg.AuditLogID, err)
	}
	if h.Witnesses != nil {
		h.Witnesses.Prover = lg
	}
	cps, err := witness.NewSigner(cfg.AuditLogID, witness.TypeCheckpoint, signer, &key.PublicKey)
	if err != nil {
		closeAnchorer(anchorer)
		return fmt.Errorf("checkpoint signer: %w", err)
	}
	h.Audit = &Audit{LogID: cfg.AuditLogID, Log: lg, Storage: storage, Anchorer: anchorer, Signer: signer, SubjectKey: keyer, Keys: keys, Checkpoints: cps}
	if err := h.checkLogAgainstCheckpoints(ctx); err != nil {
		cerr := h.closeAudit()
		h.Audit = nil
		return errors.Join(err, cerr)
	}
	if err := h.openOutbox(ctx); err != nil {
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

// openOutbox sets up the audited-write path and, before the hub serves, appends the audit
// records of writes that committed without them reaching the log (a crash between the
// two, or a log that was unavailable): each exactly once.
func (h *Hub) openOutbox(ctx context.Context) error {
	keyPath := filepath.Join(h.Config.DataDir, "ca", "outbox-key")
	// Kept like the subject key (encrypted at rest with ca_password_file, when set); every
	// replica sharing the database uses the same file.
	key, err := h.Keys.Secret(keyPath, 32)
	if err != nil {
		return fmt.Errorf("audit outbox key: %w", err)
	}
	w := &store.AuditWriter{Outbox: h.Store.Outbox(), Log: h.Audit.Log, LogID: h.Audit.LogID, Key: key, Hash: sm.NewSM3, Logger: h.Log, Now: h.now,
		Attribute: ledgerserver.RequestAttribution{Evidence: h.Store.Evidence()}.Attribute}
	n, err := w.Drain(ctx, 0)
	if err != nil {
		return fmt.Errorf("append the pending audit records of committed writes (audit outbox of %s): %w", h.Audit.LogID, err)
	}
	if n > 0 {
		h.Log.WarnContext(ctx, "appended the audit records of writes committed before the last stop", slog.Int("records", n))
		h.step("audit outbox: appended %d record(s) of writes committed before the last stop", n)
	}
	if t := w.Tampered(); t > 0 {
		h.Log.ErrorContext(ctx, "audit outbox holds intents that fail their seal (edited in the database); they were not appended", slog.Int64("intents", t))
	}
	h.Audit.Writer = w
	return nil
}

// registerOutboxMetrics exports the audit outbox's state: intents waiting for the log
// (normally 0 between writes) and intents that failed their seal since start.
func (h *Hub) registerOutboxMetrics(reg *prometheus.Registry) {
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "gxhub_audit_outbox_pending",
			Help: "Audit intents of committed writes not yet in the audit log (up to 1000 counted); stays above 0 only while the log cannot take records."},
			func() float64 {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				defer cancel()
				p, err := h.Store.Outbox().Pending(ctx, h.Audit.LogID, 0, 1000)
				if err != nil {
					return -1
				}
				return float64(len(p))
			}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "gxhub_audit_outbox_tampered",
			Help: "Pending audit intents that failed their seal (edited in the database) since start; they are not appended. Anything above 0 is an incident."},
			func() float64 { return float64(h.Audit.Writer.Tampered()) }),
	)
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
	if err := h.checkWitnesses(ctx); err != nil {
		return err
	}
	if err := h.rotateAnchorKey(ctx); err != nil {
		return err
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
