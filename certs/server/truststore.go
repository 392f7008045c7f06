package server

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emmansun/gmsm/smx509"

	"github.com/gxhub/gxhub/certs/pki"
	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/certs/trust"
	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/rpc"
	"github.com/gxhub/gxhub/exchange/store"
	"github.com/gxhub/gxhub/ledger"
	certsv1 "github.com/gxhub/gxhub/sdk/api/certs/v1"
)

// Audit kinds of the trust store.
const (
	KindTrustBundle    ledger.Kind = "trust.bundle"
	KindTrustCRLSource ledger.Kind = "trust.crl_source"
)

// TrustStore is what the hub's verifier trusts: its own root and issuing CAs (fixed), extra
// roots from its data directory (read at start), the coordinator's trust bundle (versioned
// in the store) and the CRLs fetched from the CRL sources. Every replica reloads it from
// the store on its refresh schedule and after its own changes; verifications read one
// consistent snapshot.
type TrustStore struct {
	certsv1.UnimplementedTrustStoreServiceServer
	Store store.Store
	Audit *store.AuditWriter
	Log   *slog.Logger
	Now   func() time.Time
	// HubRoot is the hub's root CA; HubIntermediates its issuing CAs; FileAnchors the
	// extra roots of DATA_DIR/trust/*.pem.
	HubRoot          *smx509.Certificate
	HubIntermediates []*smx509.Certificate
	FileAnchors      []*smx509.Certificate
	// HTTP fetches CRLs and asks OCSP responders; nil means a client with a 30 s timeout.
	HTTP *http.Client
	// Index, when set, is the audit log's index: a bundle version is trusted only when the
	// audit log holds the record of its load with its SM3, so a bundle written into the
	// database by other means (an insider's UPDATE) anchors nothing.
	Index store.AuditIndex

	snap     atomic.Pointer[trustSnapshot]
	refresh  sync.Mutex // one fetch round at a time
	ocspOnce sync.Once
	ocsp     *trust.OCSP
}

// trustSnapshot is one consistent view of the trust store.
type trustSnapshot struct {
	version int64
	problem string
	anchors []*certsv1.TrustAnchor
	roots   []*smx509.Certificate
	crls    []*smx509.RevocationList
	sources []*store.CRLSource
}

func (t *TrustStore) now() time.Time {
	if t.Now != nil {
		return t.Now()
	}
	return time.Now()
}

func (t *TrustStore) current() *trustSnapshot {
	if s := t.snap.Load(); s != nil {
		return s
	}
	return &trustSnapshot{roots: []*smx509.Certificate{t.HubRoot}}
}

// Roots returns the trust anchors in use.
func (t *TrustStore) Roots() []*smx509.Certificate { return t.current().roots }

// Version returns the trust bundle version in use.
func (t *TrustStore) Version() int64 { return t.current().version }

// Issuers returns every CA certificate the hub knows (anchors and issuing CAs): the
// possible signers of CRLs and OCSP responses.
func (t *TrustStore) Issuers() []*smx509.Certificate {
	return append(append([]*smx509.Certificate{}, t.current().roots...), t.HubIntermediates...)
}

// Revocation answers from the CRLs in use, then from OCSP responders that certificates
// name.
func (t *TrustStore) Revocation() trust.Sources {
	s := t.current()
	crls := &trust.CRLs{Issuers: t.Issuers(), Lists: s.crls, Now: t.now}
	t.ocspOnce.Do(func() { t.ocsp = &trust.OCSP{Client: t.HTTP, Issuers: t.Issuers, Now: t.now} })
	return trust.Sources{crls, t.ocsp}
}

func anchorOf(c *smx509.Certificate, source string) *certsv1.TrustAnchor {
	sum := sm.Sum(c.Raw)
	return &certsv1.TrustAnchor{Subject: c.Subject.String(), Sm3: hex.EncodeToString(sum[:]), NotBefore: certTS(c.NotBefore), NotAfter: certTS(c.NotAfter),
		Source: source, Ca: c.IsCA, Pem: string(pki.EncodeCertsPEM(c))}
}

// Reload reads the trust bundle and the fetched CRLs from the store and makes them the
// snapshot in use.
func (t *TrustStore) Reload(ctx context.Context) error {
	s := &trustSnapshot{roots: []*smx509.Certificate{t.HubRoot}, anchors: []*certsv1.TrustAnchor{anchorOf(t.HubRoot, "hub root")}}
	seen := map[string]bool{string(t.HubRoot.Raw): true}
	add := func(c *smx509.Certificate, source string) {
		if !seen[string(c.Raw)] {
			seen[string(c.Raw)] = true
			s.roots = append(s.roots, c)
			s.anchors = append(s.anchors, anchorOf(c, source))
		}
	}
	for _, c := range t.FileAnchors {
		add(c, "data directory trust/")
	}
	if err := t.addFederationAnchors(ctx, add); err != nil {
		return err
	}
	b, err := t.Store.Trust().CurrentBundle(ctx)
	if err != nil {
		return err
	}
	if b != nil {
		s.version = b.Version
		if err := t.loadEvidence(ctx, b); err != nil {
			s.problem = err.Error()
			if t.Log != nil {
				t.Log.ErrorContext(ctx, "trust bundle not used", slog.Int64("version", b.Version), slog.String("error", s.problem))
			}
		} else if b.PEM != "" {
			parsed, err := trust.Parse([]byte(b.PEM))
			if err != nil {
				return fmt.Errorf("trust bundle version %d no longer parses: %w", b.Version, err)
			}
			for _, c := range parsed.Anchors {
				add(c, fmt.Sprintf("trust bundle v%d", b.Version))
			}
		}
	}
	if s.sources, err = t.Store.Trust().ListCRLSources(ctx); err != nil {
		return err
	}
	for _, src := range s.sources {
		if len(src.DER) == 0 {
			continue
		}
		if l, err := pki.ParseCRL(src.DER); err == nil {
			s.crls = append(s.crls, l)
		}
	}
	t.snap.Store(s)
	return nil
}

// loadEvidence checks that the audit log records the load of bundle version b with its SM3.
func (t *TrustStore) loadEvidence(ctx context.Context, b *store.TrustBundle) error {
	if t.Index == nil {
		return nil
	}
	entries, err := t.Index.Search(ctx, store.AuditQuery{Kind: KindTrustBundle, Resource: fmt.Sprintf("trust-bundle/v%d", b.Version)}, 0, 10)
	if err != nil {
		return fmt.Errorf("trust bundle version %d: its audit record cannot be read (%v): its anchors are not trusted until it can", b.Version, err)
	}
	sum := sm.Sum([]byte(b.PEM))
	for _, e := range entries {
		if e.Record.Outcome == ledger.OutcomeOK && string(e.Record.ResponseDigest) == string(sum[:]) {
			return nil
		}
	}
	return fmt.Errorf("trust bundle version %d (sm3 %x) has no audit record of its load with that SM3: it was not loaded through the trust store API, so its anchors are not trusted; a coordinator loads the bundle again", b.Version, sum[:])
}

// Refresh fetches every CRL source, records what it got and reloads. It returns the
// sources' errors joined (each is also kept with its source).
func (t *TrustStore) Refresh(ctx context.Context) error {
	t.refresh.Lock()
	defer t.refresh.Unlock()
	if err := t.Reload(ctx); err != nil {
		return err
	}
	var errs []error
	for _, src := range t.current().sources {
		if err := t.fetch(ctx, src); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", src.Location, err))
		}
	}
	if err := t.Reload(ctx); err != nil {
		return err
	}
	return errors.Join(errs...)
}

func (t *TrustStore) fetch(ctx context.Context, src *store.CRLSource) error {
	now := t.now()
	l, err := trust.FetchCRL(ctx, t.HTTP, src.Location, t.Issuers(), now)
	if err == nil {
		err = t.Store.Trust().RecordCRL(ctx, src.ID, &store.FetchedCRL{DER: l.Raw, Issuer: l.Issuer.String(), ThisUpdate: l.ThisUpdate,
			NextUpdate: l.NextUpdate, Revoked: len(l.RevokedCertificateEntries), FetchedAt: now})
	}
	if err != nil {
		if rerr := t.Store.Trust().RecordCRLError(ctx, src.ID, now, err.Error()); rerr != nil && t.Log != nil {
			t.Log.WarnContext(ctx, "record CRL fetch error", slog.String("error", rerr.Error()))
		}
		return err
	}
	return nil
}

// Run refreshes the CRLs every interval (and sooner when a CRL in use reaches its
// nextUpdate) until ctx is done.
func (t *TrustStore) Run(ctx context.Context, interval time.Duration) {
	for {
		if err := t.Refresh(ctx); err != nil && ctx.Err() == nil && t.Log != nil {
			t.Log.WarnContext(ctx, "CRL refresh", slog.String("error", err.Error()))
		}
		wait := interval
		for _, src := range t.current().sources {
			if d := src.NextUpdate.Sub(t.now()); !src.NextUpdate.IsZero() && d > time.Minute && d < wait {
				wait = d
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// write is an audited write of the trust store (see Certs.write).
func (t *TrustStore) write(ctx context.Context, do func(ctx context.Context) error, rec func() ledger.Record) error {
	return rpc.WriteAudited(ctx, t.Audit, t.now, do, rec)
}

func (t *TrustStore) proto() *certsv1.TrustStore {
	s := t.current()
	out := &certsv1.TrustStore{Version: s.version, Anchors: s.anchors, Problem: s.problem}
	for _, src := range s.sources {
		out.CrlSources = append(out.CrlSources, &certsv1.CRLSource{Id: src.ID, Location: src.Location, Note: src.Note, AddedBy: src.AddedBy, AddedAt: certTS(src.AddedAt),
			Issuer: src.Issuer, ThisUpdate: certTS(src.ThisUpdate), NextUpdate: certTS(src.NextUpdate), FetchedAt: certTS(src.FetchedAt),
			Revoked: int32(src.Revoked), LastAttemptAt: certTS(src.LastAttemptAt), LastError: src.LastError})
	}
	return out
}

// GetTrustStore implements TrustStoreService.
func (t *TrustStore) GetTrustStore(ctx context.Context, _ *certsv1.GetTrustStoreRequest) (*certsv1.TrustStore, error) {
	if _, err := rpc.RequireCaller(ctx); err != nil {
		return nil, err
	}
	return t.proto(), nil
}

// PutTrustBundle implements TrustStoreService: a coordinator loads the next version.
func (t *TrustStore) PutTrustBundle(ctx context.Context, req *certsv1.PutTrustBundleRequest) (*certsv1.PutTrustBundleResponse, error) {
	caller, err := rpc.RequireRole(ctx, exchange.RoleCoordinator)
	if err != nil {
		return nil, err
	}
	pemText := strings.TrimSpace(req.GetBundlePem())
	n := 0
	if pemText != "" {
		b, err := trust.Parse([]byte(pemText))
		if err == nil {
			err = trust.CheckAnchors(b)
		}
		if err != nil {
			return nil, exchange.Wrap(exchange.KindInvalid, "TRUST_BUNDLE_INVALID", err, "trust bundle: %v", err)
		}
		n = len(b.Anchors)
		pemText = string(b.PEM())
	}
	sum := sm.Sum([]byte(pemText))
	rec := &store.TrustBundle{PEM: pemText, SM3: hex.EncodeToString(sum[:]), LoadedBy: caller.Department.Code, LoadedAt: t.now().UTC(), Note: strings.TrimSpace(req.GetNote())}
	if err := t.write(ctx, func(ctx context.Context) error { return t.Store.Trust().PutBundle(ctx, rec, req.GetExpectedVersion()) }, func() ledger.Record {
		return ledger.Record{Kind: KindTrustBundle, Time: rec.LoadedAt, Department: caller.Department.Code, Resource: fmt.Sprintf("trust-bundle/v%d", rec.Version),
			Outcome: ledger.OutcomeOK, Reason: fmt.Sprintf("%d anchor(s), sm3 %s: %s", n, rec.SM3, rec.Note), ResponseDigest: sum[:]}
	}); err != nil {
		return nil, err
	}
	if err := t.Reload(ctx); err != nil {
		return nil, err
	}
	return &certsv1.PutTrustBundleResponse{Store: t.proto()}, nil
}

// ListTrustBundleVersions implements TrustStoreService.
func (t *TrustStore) ListTrustBundleVersions(ctx context.Context, _ *certsv1.ListTrustBundleVersionsRequest) (*certsv1.ListTrustBundleVersionsResponse, error) {
	if _, err := rpc.RequireCaller(ctx); err != nil {
		return nil, err
	}
	list, err := t.Store.Trust().ListBundles(ctx)
	if err != nil {
		return nil, err
	}
	resp := &certsv1.ListTrustBundleVersionsResponse{}
	for _, b := range list {
		v := &certsv1.TrustBundleVersion{Version: b.Version, Sm3: b.SM3, LoadedBy: b.LoadedBy, LoadedAt: certTS(b.LoadedAt), Note: b.Note}
		if parsed, err := trust.Parse([]byte(b.PEM)); err == nil {
			for _, c := range parsed.Anchors {
				v.Anchors = append(v.Anchors, anchorOf(c, fmt.Sprintf("trust bundle v%d", b.Version)))
			}
		}
		resp.Versions = append(resp.Versions, v)
	}
	return resp, nil
}

// AddCRLSource implements TrustStoreService: the CRL is fetched at once.
func (t *TrustStore) AddCRLSource(ctx context.Context, req *certsv1.AddCRLSourceRequest) (*certsv1.CRLSource, error) {
	caller, err := rpc.RequireRole(ctx, exchange.RoleCoordinator)
	if err != nil {
		return nil, err
	}
	loc := strings.TrimSpace(req.GetLocation())
	if err := trust.CheckLocation(loc); err != nil {
		return nil, exchange.Wrap(exchange.KindInvalid, "CRL_SOURCE_INVALID", err, "%v", err)
	}
	src := &store.CRLSource{Location: loc, Note: strings.TrimSpace(req.GetNote()), AddedBy: caller.Department.Code, AddedAt: t.now().UTC()}
	if err := t.write(ctx, func(ctx context.Context) error { return t.Store.Trust().AddCRLSource(ctx, src) }, func() ledger.Record {
		return ledger.Record{Kind: KindTrustCRLSource, Time: src.AddedAt, Department: caller.Department.Code, Resource: fmt.Sprintf("crl-source/%d", src.ID),
			Outcome: ledger.OutcomeOK, Reason: "add " + loc + ": " + src.Note}
	}); err != nil {
		return nil, err
	}
	t.refresh.Lock()
	ferr := t.fetch(ctx, src)
	t.refresh.Unlock()
	if err := t.Reload(ctx); err != nil {
		return nil, err
	}
	if ferr != nil && t.Log != nil {
		t.Log.WarnContext(ctx, "first CRL fetch failed", slog.String("location", loc), slog.String("error", ferr.Error()))
	}
	for _, s := range t.proto().GetCrlSources() {
		if s.GetId() == src.ID {
			return s, nil
		}
	}
	return nil, exchange.Errorf(exchange.KindInternal, "CRL_SOURCE_LOST", "CRL source %d vanished after it was added", src.ID)
}

// RemoveCRLSource implements TrustStoreService.
func (t *TrustStore) RemoveCRLSource(ctx context.Context, req *certsv1.RemoveCRLSourceRequest) (*certsv1.RemoveCRLSourceResponse, error) {
	caller, err := rpc.RequireRole(ctx, exchange.RoleCoordinator)
	if err != nil {
		return nil, err
	}
	if err := t.write(ctx, func(ctx context.Context) error { return t.Store.Trust().RemoveCRLSource(ctx, req.GetId()) }, func() ledger.Record {
		return ledger.Record{Kind: KindTrustCRLSource, Department: caller.Department.Code, Resource: fmt.Sprintf("crl-source/%d", req.GetId()),
			Outcome: ledger.OutcomeOK, Reason: "remove: " + strings.TrimSpace(req.GetReason())}
	}); err != nil {
		return nil, err
	}
	if err := t.Reload(ctx); err != nil {
		return nil, err
	}
	return &certsv1.RemoveCRLSourceResponse{}, nil
}

// RefreshCRLs implements TrustStoreService: fetch now.
func (t *TrustStore) RefreshCRLs(ctx context.Context, _ *certsv1.RefreshCRLsRequest) (*certsv1.RefreshCRLsResponse, error) {
	if _, err := rpc.RequireRole(ctx, exchange.RoleCoordinator); err != nil {
		return nil, err
	}
	if err := t.Refresh(ctx); err != nil && t.Log != nil {
		t.Log.InfoContext(ctx, "CRL refresh on request", slog.String("error", err.Error()))
	}
	return &certsv1.RefreshCRLsResponse{Store: t.proto()}, nil
}
