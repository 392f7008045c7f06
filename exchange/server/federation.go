package server

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gxhub/gxhub/certs/pki"
	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/federation"
	"github.com/gxhub/gxhub/exchange/store"
	"github.com/gxhub/gxhub/ledger"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
	"github.com/gxhub/gxhub/sdk/reqsig"
)

// Audit record kinds of the federation (docs/FEDERATION.md).
const (
	KindFederationAgreement   ledger.Kind = "federation.agreement"   // an agreement proposed, accepted, confirmed, suspended, resumed or ended (by either side)
	KindFederationRequirement ledger.Kind = "federation.requirement" // a remote requirement filed or its home hub's decisions taken in
	KindFederationForward     ledger.Kind = "federation.forward"     // a pull forwarded to its home hub (before it leaves)
	KindFederationCatalog     ledger.Kind = "federation.catalog"     // remote resources synchronised from a peer
)

// PeerPath is where a hub serves its peers (POST, a signed federation.Envelope as JSON).
const PeerPath = "/federation/v1/peer"

// SM2Federation signs with the hub's federation key and verifies peers' signatures with
// the certificates their cards carry (federation.Signer, federation.Verifier).
type SM2Federation struct {
	Key *sm.PrivateKey
	Now func() time.Time
}

// Sign implements federation.Signer.
func (s SM2Federation) Sign(msg []byte) ([]byte, error) { return sm.Sign(s.Key, msg) }

// Verify implements federation.Verifier: cert chains to root (through issuing), is the
// hub's certificate for purpose, and its key signed msg.
func (s SM2Federation) Verify(rootPEM, issuingPEM, certPEM, purpose string, msg, sig []byte) error {
	roots, err := pki.ParseCertsPEM([]byte(rootPEM))
	if err != nil || len(roots) == 0 {
		return fmt.Errorf("the hub's CA root does not parse")
	}
	inter, _ := pki.ParseCertsPEM([]byte(issuingPEM))
	certs, err := pki.ParseCertsPEM([]byte(certPEM))
	if err != nil || len(certs) == 0 {
		return fmt.Errorf("the %s certificate does not parse", purpose)
	}
	p := pki.PurposeFederation
	if purpose == federation.PurposePull {
		p = pki.PurposePull
	}
	now := time.Now()
	if s.Now != nil {
		now = s.Now()
	}
	if err := pki.VerifyHubKeyCert(certs[0], p, roots, inter, now); err != nil {
		return err
	}
	k, ok := certs[0].PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return fmt.Errorf("the %s certificate does not hold an SM2 key", purpose)
	}
	return sm.Verify(k, msg, sig)
}

// SM3Hex is the digest both hubs bind federation messages with.
func SM3Hex(b []byte) string {
	d := sm.Sum(b)
	return hex.EncodeToString(d[:])
}

// VerifyConsumerRequest checks a consumer's own signed request: its certificate chains to
// the consumer hub's CA (valid at now), its key signed the JWS, and the JWS covers exactly
// the method and body carried.
func VerifyConsumerRequest(rootPEM, issuingPEM string, c *federation.ConsumerRequest, now time.Time) (*reqsig.Claims, error) {
	roots, err := pki.ParseCertsPEM([]byte(rootPEM))
	if err != nil || len(roots) == 0 {
		return nil, fmt.Errorf("the consumer hub's CA root does not parse")
	}
	inter, _ := pki.ParseCertsPEM([]byte(issuingPEM))
	certs, err := pki.ParseCertsPEM([]byte(c.CertPEM))
	if err != nil || len(certs) == 0 {
		return nil, fmt.Errorf("the consumer's certificate does not parse")
	}
	req, err := reqsig.Parse(c.Authorization)
	if err != nil {
		return nil, err
	}
	if req.Department != c.Department {
		return nil, fmt.Errorf("the signed request names department %s, the forward %s", req.Department, c.Department)
	}
	// The certificate must be the department's own (or one of its operators'): a
	// department's key cannot sign for another department of its hub.
	if code, err := pki.DepartmentCode(certs[0]); err != nil || code != c.Department {
		return nil, fmt.Errorf("the signing certificate is not department %s's (it names %q)", c.Department, code)
	}
	claims, err := req.VerifyOffline(certs[0].PublicKey)
	if err != nil {
		return nil, err
	}
	if now.IsZero() {
		now = time.Unix(claims.Time, 0)
	}
	if err := pki.VerifySigningCert(certs[0], roots, inter, now); err != nil {
		return nil, fmt.Errorf("the consumer's certificate is not from its hub's CA: %w", err)
	}
	if claims.Path != c.Method || claims.BodyDigest != reqsig.BodyDigest(c.Body) {
		return nil, fmt.Errorf("the consumer signed %s with body digest %s, not the forwarded %s request", claims.Path, claims.BodyDigest, c.Method)
	}
	return claims, nil
}

// VerifyConsumerRequestOffline is VerifyConsumerRequest with the certificate checked at
// the time the consumer signed (for auditors, later).
func VerifyConsumerRequestOffline(rootPEM, issuingPEM string, c *federation.ConsumerRequest) (*reqsig.Claims, error) {
	return VerifyConsumerRequest(rootPEM, issuingPEM, c, time.Time{})
}

// Federation implements gxhub.exchange.v1.FederationService and serves the hub's peers
// (ServeHTTP at PeerPath): agreements, remote resources, remote requirements and forwarded
// pulls (docs/FEDERATION.md).
type Federation struct {
	exchangev1.UnimplementedFederationServiceServer
	Store store.Store
	Audit *store.AuditWriter
	Log   *slog.Logger
	Now   func() time.Time
	// Card is this hub's card; Key its federation key.
	Card federation.HubCard
	Key  *sm.PrivateKey
	// Requirements files forwarded requirements at this (home) hub.
	Requirements *Requirements
	// Puller answers forwarded pulls at this (home) hub; PullSigner is its pull key.
	Puller     *exchange.Puller
	PullSigner *PullSigner
	// AuditLog records the forward and the outcome of this hub's forwarded pulls.
	AuditLog   ledger.Log
	LogID      string
	SubjectKey ledger.SubjectKeyFunc
	// Trust is the verifier's trust store: the roots of hubs with a usable agreement are
	// trusted while it lasts (federation_trust.go).
	Trust TrustReloader
	// PeerTimeout bounds one call to a peer (default 30s).
	PeerTimeout time.Duration

	cardOnce   sync.Once
	cardSigned federation.Signed
	cardErr    error
	clients    sync.Map // peer id + TLS CA → *http.Client
}

func (f *Federation) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

func (f *Federation) sm2() SM2Federation { return SM2Federation{Key: f.Key, Now: f.Now} }

// SignedCard is this hub's card signed by its federation key.
func (f *Federation) SignedCard() (federation.Signed, error) {
	f.cardOnce.Do(func() {
		if f.cardErr = f.Card.Validate(); f.cardErr != nil {
			return
		}
		f.cardSigned, f.cardErr = federation.Sign(f.sm2(), f.Card)
	})
	return f.cardSigned, f.cardErr
}

func (f *Federation) configured() error {
	if f.Card.ID == "" {
		return exchange.Errorf(exchange.KindFailedPrecondition, "FEDERATION_NOT_CONFIGURED",
			"this hub has no federation identity: set federation.hub_id, name, level and region (GXHUB_FEDERATION_HUB_ID, …) and restart")
	}
	return nil
}

// GetHubCard returns this hub's signed card.
func (f *Federation) GetHubCard(ctx context.Context, _ *exchangev1.GetHubCardRequest) (*exchangev1.SignedDocument, error) {
	if _, err := RequireCaller(ctx); err != nil {
		return nil, err
	}
	if err := f.configured(); err != nil {
		return nil, err
	}
	s, err := f.SignedCard()
	if err != nil {
		return nil, err
	}
	return &exchangev1.SignedDocument{Payload: s.Payload, Signature: s.Signature}, nil
}

// AgreementToProto converts an agreement for the wire.
func AgreementToProto(a *federation.Agreement) *exchangev1.Agreement {
	t, p := &a.Terms, a.Peer()
	out := &exchangev1.Agreement{Id: t.ID, State: string(a.State), Version: int32(a.Version), Local: string(a.Local),
		ProposerHub: t.Proposer.ID, AcceptorHub: t.Acceptor.ID, PeerHub: p.ID, PeerName: p.Name, PeerLevel: p.Level.String(),
		PeerRegion: p.Region, PeerUrl: p.URL, ProposerOffers: t.ProposerOffers, AcceptorOffers: t.AcceptorOffers,
		ValidFrom: timestamppb.New(t.ValidFrom), ValidUntil: timestamppb.New(t.ValidUntil),
		Terms: a.TermsBytes, ProposerSignature: a.ProposerSignature, AcceptorSignature: a.AcceptorSignature}
	for _, e := range a.History {
		out.History = append(out.History, &exchangev1.AgreementEvent{Version: int32(e.Version), At: timestamppb.New(e.At), State: string(e.State),
			ByHub: e.ByHub, By: e.By, Reason: e.Reason})
	}
	return out
}

func agreementRecord(a *federation.Agreement, by, what string, at time.Time, evidence string) ledger.Record {
	r := ledger.Record{Kind: KindFederationAgreement, Time: at, Department: by, Resource: "agreement:" + a.Terms.ID, Outcome: ledger.OutcomeOK,
		Reason: fmt.Sprintf("%s: agreement %s (v%d) with hub %s is %s", what, a.Terms.ID, a.Version, a.Peer().ID, a.State), RequestID: a.Terms.ID}
	d := sm.Sum(a.TermsBytes)
	r.ResponseDigest = d[:]
	_ = evidence
	return r
}

func (f *Federation) putAgreement(ctx context.Context, a *federation.Agreement, by, what string) error {
	_, err := auditedWrite(ctx, f.Audit, func(ctx context.Context) (ledger.Record, error) {
		if err := f.Store.Federation().PutAgreement(ctx, a); err != nil {
			return ledger.Record{}, err
		}
		return agreementRecord(a, by, what, a.UpdatedAt, ""), nil
	})
	if err == nil {
		f.agreementChanged(ctx, a)
	}
	return err
}

// ProposeAgreement proposes an agreement to the hub whose signed card is given.
func (f *Federation) ProposeAgreement(ctx context.Context, req *exchangev1.ProposeAgreementRequest) (*exchangev1.ProposeAgreementResponse, error) {
	caller, err := RequireRole(ctx, exchange.RoleCoordinator)
	if err != nil {
		return nil, err
	}
	if err := f.configured(); err != nil {
		return nil, err
	}
	peer, err := federation.OpenCard(f.sm2(), federation.Signed{Payload: req.GetPeerCard().GetPayload(), Signature: req.GetPeerCard().GetSignature()})
	if err != nil {
		return nil, err
	}
	now := f.now().UTC().Truncate(time.Second)
	t := federation.Terms{ID: strings.TrimSpace(req.GetId()), Proposer: f.Card, Acceptor: *peer, ProposerOffers: req.GetOffers(), AcceptorOffers: req.GetRequests(),
		ValidFrom: now, ProposedAt: now}
	if t.ID == "" {
		t.ID = "FA-" + f.Card.ID + "-" + peer.ID + "-" + exchange.NewID()[:8]
	}
	if req.GetValidFrom() != nil {
		t.ValidFrom = req.GetValidFrom().AsTime().UTC()
	}
	if req.GetValidUntil() != nil {
		t.ValidUntil = req.GetValidUntil().AsTime().UTC()
	}
	for _, code := range req.GetOffers() {
		if _, err := f.Store.Catalog().Get(ctx, strings.TrimSpace(code), 0); err != nil {
			return nil, exchange.Wrap(exchange.KindInvalid, "AGREEMENT_RESOURCE_UNKNOWN", err, "this hub offers %s, which is not in its catalogue", code)
		}
	}
	a, err := federation.Propose(t, f.sm2(), caller.Department.Code, now)
	if err != nil {
		return nil, err
	}
	if err := f.putAgreement(ctx, a, caller.Department.Code, "proposed"); err != nil {
		return nil, err
	}
	return &exchangev1.ProposeAgreementResponse{Agreement: AgreementToProto(a)}, nil
}

// AcceptAgreement accepts a proposal (this hub is the acceptor) or takes the acceptor's
// countersignature (this hub proposed).
func (f *Federation) AcceptAgreement(ctx context.Context, req *exchangev1.AcceptAgreementRequest) (*exchangev1.AcceptAgreementResponse, error) {
	caller, err := RequireRole(ctx, exchange.RoleCoordinator)
	if err != nil {
		return nil, err
	}
	if err := f.configured(); err != nil {
		return nil, err
	}
	var t federation.Terms
	if err := json.Unmarshal(req.GetTerms(), &t); err != nil {
		return nil, exchange.Wrap(exchange.KindInvalid, "AGREEMENT_INVALID", err, "the terms do not decode: pass the file `gxctl federation propose` wrote")
	}
	now := f.now().UTC()
	by := caller.Department.Code
	if t.Proposer.ID == f.Card.ID {
		a, err := f.Store.Federation().GetAgreement(ctx, t.ID)
		if err != nil {
			return nil, err
		}
		if err := a.Confirm(req.GetTerms(), req.GetAcceptorSignature(), f.sm2(), by, now); err != nil {
			return nil, err
		}
		if err := f.putAgreement(ctx, a, by, "countersignature taken in"); err != nil {
			return nil, err
		}
		return &exchangev1.AcceptAgreementResponse{Agreement: AgreementToProto(a), PeerNotified: true}, nil
	}
	a, err := federation.Accept(req.GetTerms(), req.GetProposerSignature(), &f.Card, f.sm2(), f.sm2(), by, now)
	if err != nil {
		return nil, err
	}
	if err := f.putAgreement(ctx, a, by, "accepted"); err != nil {
		return nil, err
	}
	out := &exchangev1.AcceptAgreementResponse{Agreement: AgreementToProto(a)}
	if _, err := f.call(ctx, a, federation.OpConfirm, federation.Confirmation{Terms: a.TermsBytes, Signature: a.AcceptorSignature}, nil); err != nil {
		out.PeerError = err.Error()
	} else {
		out.PeerNotified = true
	}
	return out, nil
}

// ListAgreements lists this hub's agreements.
func (f *Federation) ListAgreements(ctx context.Context, _ *exchangev1.ListAgreementsRequest) (*exchangev1.ListAgreementsResponse, error) {
	if _, err := RequireCaller(ctx); err != nil {
		return nil, err
	}
	as, err := f.Store.Federation().ListAgreements(ctx)
	if err != nil {
		return nil, err
	}
	out := &exchangev1.ListAgreementsResponse{}
	for _, a := range as {
		out.Agreements = append(out.Agreements, AgreementToProto(a))
	}
	return out, nil
}

// ChangeAgreement suspends, resumes or ends an agreement and tells the other hub.
func (f *Federation) ChangeAgreement(ctx context.Context, req *exchangev1.ChangeAgreementRequest) (*exchangev1.ChangeAgreementResponse, error) {
	caller, err := RequireRole(ctx, exchange.RoleCoordinator)
	if err != nil {
		return nil, err
	}
	a, err := f.Store.Federation().GetAgreement(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	now := f.now().UTC()
	c := federation.Change(req.GetChange())
	if err := a.Apply(c, f.Card.ID, caller.Department.Code, req.GetReason(), nil, now); err != nil {
		return nil, err
	}
	if err := f.putAgreement(ctx, a, caller.Department.Code, string(c)); err != nil {
		return nil, err
	}
	out := &exchangev1.ChangeAgreementResponse{Agreement: AgreementToProto(a)}
	notice := federation.Notice{Change: c, By: caller.Department.Code, Reason: req.GetReason(), At: now}
	if _, err := f.callAny(ctx, a, federation.OpNotice, notice, nil); err != nil {
		out.PeerError = err.Error()
	} else {
		out.PeerNotified = true
	}
	return out, nil
}

// peerClient is the HTTP client for a peer: TLS trusting the CA its card names.
func (f *Federation) peerClient(p *federation.HubCard) (*http.Client, error) {
	key := p.ID + "\x00" + p.TLSCAPEM
	if c, ok := f.clients.Load(key); ok {
		return c.(*http.Client), nil
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	if p.TLSCAPEM != "" {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(p.TLSCAPEM)) {
			return nil, fmt.Errorf("hub %s: its TLS CA does not parse", p.ID)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	timeout := f.PeerTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	c := &http.Client{Transport: tr, Timeout: timeout}
	f.clients.Store(key, c)
	return c, nil
}

// peerCall is one signed exchange with a peer, kept as evidence.
type peerCall struct {
	Request  federation.Envelope
	Answer   federation.Envelope
	Response federation.Response
}

func remoteUnavailable(peer string, err error) error {
	return exchange.Wrap(exchange.KindUnavailable, federation.ReasonRemoteUnavailable, err,
		"hub %s did not answer, so nothing is returned (this hub recorded the attempt; the other hub's log shows whether it answered before it failed): try again later", peer)
}

// call sends a signed request under an agreement that must be active, and decodes the
// peer's signed answer into out (nil: ignore the body). A peer's refusal comes back as
// its own error (kind, reason, message).
func (f *Federation) call(ctx context.Context, a *federation.Agreement, op string, body, out any) (*peerCall, error) {
	return f.callAny(ctx, a, op, body, out)
}

func (f *Federation) callAny(ctx context.Context, a *federation.Agreement, op string, body, out any) (*peerCall, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	peer := a.Peer()
	req := federation.Request{Op: op, Agreement: a.Terms.ID, From: f.Card.ID, To: peer.ID, At: f.now().UTC(), Nonce: exchange.NewID(), Body: b}
	signed, err := federation.Sign(f.sm2(), req)
	if err != nil {
		return nil, err
	}
	pc := &peerCall{Request: federation.Envelope{Agreement: a.Terms.ID, From: f.Card.ID, Signed: signed}}
	wire, err := json.Marshal(pc.Request)
	if err != nil {
		return nil, err
	}
	client, err := f.peerClient(peer)
	if err != nil {
		return nil, err
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(peer.URL, "/")+PeerPath, bytes.NewReader(wire))
	if err != nil {
		return nil, err
	}
	hreq.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(hreq)
	if err != nil {
		return nil, remoteUnavailable(peer.ID, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, remoteUnavailable(peer.ID, err)
	}
	if err := json.Unmarshal(raw, &pc.Answer); err != nil || pc.Answer.From != peer.ID {
		return nil, remoteUnavailable(peer.ID, fmt.Errorf("HTTP %d, not a signed answer: %.200s", resp.StatusCode, raw))
	}
	if err := federation.Open(f.sm2(), peer, pc.Answer.Signed, &pc.Response); err != nil {
		return nil, err
	}
	if pc.Response.RequestDigest != SM3Hex(signed.Payload) || pc.Response.Op != op || pc.Response.From != peer.ID {
		return nil, exchange.Errorf(exchange.KindUnauthenticated, "PEER_ANSWER_UNBOUND", "hub %s answered another request: refused", peer.ID)
	}
	if e := pc.Response.Error; e != nil {
		return pc, &exchange.Error{Kind: e.Kind, Reason: e.Reason, Msg: "hub " + peer.ID + ": " + e.Message}
	}
	if out != nil {
		if err := json.Unmarshal(pc.Response.Body, out); err != nil {
			return pc, exchange.Wrap(exchange.KindInternal, "PEER_ANSWER_INVALID", err, "hub %s's answer does not decode", peer.ID)
		}
	}
	return pc, nil
}

// ServeHTTP serves the hub's peers at PeerPath: every request is a signed envelope under
// an agreement this hub holds; every answer is signed by this hub and bound to the request.
func (f *Federation) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST a signed federation envelope", http.StatusMethodNotAllowed)
		return
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	var env federation.Envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		http.Error(w, "not a federation envelope", http.StatusBadRequest)
		return
	}
	ctx := r.Context()
	a, err := f.Store.Federation().GetAgreement(ctx, env.Agreement)
	if err != nil {
		// Without an agreement there is no key to check the sender with, and no one to
		// sign an answer for: a plain refusal.
		http.Error(w, "no such agreement at this hub", http.StatusForbidden)
		return
	}
	var req federation.Request
	answer := func(body any, err error) {
		resp := federation.Response{Op: req.Op, From: f.Card.ID, RequestDigest: SM3Hex(env.Payload), At: f.now().UTC()}
		if err != nil {
			kind, reason, msg := exchange.KindOf(err), "", err.Error()
			if reason, msg = exchange.ErrorOf(err); reason == "" {
				reason, msg = "INTERNAL", "the peer hub failed to answer; see its log"
				f.Log.Error("federation peer request failed", slog.String("op", req.Op), slog.String("from", env.From), slog.String("error", err.Error()))
			}
			resp.Error = &federation.RemoteError{Kind: kind, Reason: reason, Message: msg}
		} else if body != nil {
			resp.Body, err = json.Marshal(body)
			if err != nil {
				http.Error(w, "encode answer", http.StatusInternalServerError)
				return
			}
		}
		signed, err := federation.Sign(f.sm2(), resp)
		if err != nil {
			http.Error(w, "sign answer", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(federation.Envelope{Agreement: a.Terms.ID, From: f.Card.ID, Signed: signed})
	}
	if env.From != a.Peer().ID {
		http.Error(w, "the sender is not this agreement's peer", http.StatusForbidden)
		return
	}
	if err := federation.Open(f.sm2(), a.Peer(), env.Signed, &req); err != nil {
		http.Error(w, err.Error(), http.StatusForbidden)
		return
	}
	now := f.now().UTC()
	if err := federation.CheckRequest(&req, a, now); err != nil {
		answer(nil, err)
		return
	}
	if err := f.Store.Nonces().Use(ctx, "hub:"+req.From, req.Nonce, now.Add(2*federation.MaxSkew)); err != nil {
		answer(nil, exchange.Wrap(exchange.KindUnauthenticated, "PEER_REQUEST_REPLAYED", err, "this request was already received: sign each request anew"))
		return
	}
	switch req.Op {
	case federation.OpConfirm:
		answer(nil, f.peerConfirm(ctx, a, &req))
	case federation.OpNotice:
		answer(nil, f.peerNotice(ctx, a, &req, env.Signed))
	case federation.OpCatalog:
		answer(f.peerCatalog(ctx, a, &req))
	case federation.OpRequirementFile:
		answer(f.peerFileRequirement(ctx, a, &req))
	case federation.OpRequirementGet:
		answer(f.peerGetRequirement(ctx, a, &req))
	case federation.OpPull:
		answer(f.peerPull(ctx, a, &req, env.Payload))
	default:
		answer(nil, exchange.Errorf(exchange.KindInvalid, "PEER_OP_UNKNOWN", "unknown operation %q", req.Op))
	}
}

func (f *Federation) peerConfirm(ctx context.Context, a *federation.Agreement, req *federation.Request) error {
	var c federation.Confirmation
	if err := json.Unmarshal(req.Body, &c); err != nil {
		return exchange.Wrap(exchange.KindInvalid, "PEER_MESSAGE_INVALID", err, "confirmation does not decode")
	}
	if a.State == federation.StateActive && bytes.Equal(a.AcceptorSignature, c.Signature) {
		return nil // already taken in (the acceptor retried)
	}
	if err := a.Confirm(c.Terms, c.Signature, f.sm2(), req.From, f.now().UTC()); err != nil {
		return err
	}
	return f.putAgreement(ctx, a, federation.RemoteDepartment(req.From, "hub"), "countersigned by the peer")
}

func (f *Federation) peerNotice(ctx context.Context, a *federation.Agreement, req *federation.Request, signed federation.Signed) error {
	var n federation.Notice
	if err := json.Unmarshal(req.Body, &n); err != nil {
		return exchange.Wrap(exchange.KindInvalid, "PEER_MESSAGE_INVALID", err, "notice does not decode")
	}
	if err := a.Apply(n.Change, req.From, n.By, n.Reason, &signed, f.now().UTC()); err != nil {
		return err
	}
	return f.putAgreement(ctx, a, federation.RemoteDepartment(req.From, n.By), "notice: "+string(n.Change))
}
