package server_test

import (
	"crypto/x509/pkix"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/gxhub/gxhub/certs/pki"
	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/federation"
	"github.com/gxhub/gxhub/exchange/server"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
	"github.com/gxhub/gxhub/sdk/reqsig"
)

// testHub is a hub's PKI as the federation sees it: its own root and issuing CA, its
// federation and pull keys with their one-purpose certificates.
type testHub struct {
	card    federation.HubCard
	issuing *pki.CA
	fed     server.SM2Federation
	pullKey *sm.PrivateKey
}

func newTestHub(t *testing.T, id string, level exchange.Level, region string) *testHub {
	t.Helper()
	now := time.Now().Add(-time.Hour)
	root, err := pki.NewRootCA(pkix.Name{CommonName: id + " root"}, now.Add(-time.Hour), 72*time.Hour)
	require.NoError(t, err)
	iss, err := root.NewIssuingCA(pkix.Name{CommonName: id + " issuing"}, now.Add(-time.Minute), 48*time.Hour)
	require.NoError(t, err)
	key := func(p pki.Purpose) (*sm.PrivateKey, string) {
		k, err := sm.GenerateKey()
		require.NoError(t, err)
		c, err := iss.IssueHubKeyCert(&k.PublicKey, p, now, 24*time.Hour)
		require.NoError(t, err)
		return k, string(pki.EncodeCertsPEM(c))
	}
	fedKey, fedCert := key(pki.PurposeFederation)
	pullKey, pullCert := key(pki.PurposePull)
	return &testHub{issuing: iss, fed: server.SM2Federation{Key: fedKey}, pullKey: pullKey,
		card: federation.HubCard{ID: id, Name: id, Level: level, Region: region, URL: "https://" + id + ".example",
			RootPEM: string(pki.EncodeCertsPEM(root.Cert)), IssuingPEM: string(pki.EncodeCertsPEM(iss.Cert)), FederationCertPEM: fedCert, PullCertPEM: pullCert}}
}

func (h *testHub) terms(peer *testHub, offers ...string) federation.Terms {
	now := time.Now().UTC()
	return federation.Terms{ID: "FA-1", Proposer: h.card, Acceptor: peer.card, ProposerOffers: offers, ValidFrom: now.Add(-time.Minute), ValidUntil: now.Add(time.Hour), ProposedAt: now}
}

// TestAgreementSignaturesPinBothHubs: an agreement holds only with both hubs' own
// signatures over the same terms; an insider cannot widen the offers after signing, accept
// for another hub, or pass a card signed by another key.
func TestAgreementSignaturesPinBothHubs(t *testing.T) {
	prov, city, other := newTestHub(t, "prov", exchange.LevelProvincial, "500000"), newTestHub(t, "city", exchange.LevelMunicipal, "500100"), newTestHub(t, "other", exchange.LevelMunicipal, "500200")
	now := time.Now()
	p, err := federation.Propose(prov.terms(city, "R-1"), prov.fed, "coord", now)
	require.NoError(t, err)

	// The city countersigns what names it.
	a, err := federation.Accept(p.TermsBytes, p.ProposerSignature, &city.card, city.fed, city.fed, "coord", now)
	require.NoError(t, err)
	require.Equal(t, federation.StateActive, a.State)
	require.NoError(t, p.Confirm(a.TermsBytes, a.AcceptorSignature, prov.fed, "coord", now))
	require.Equal(t, federation.StateActive, p.State)

	// Another hub cannot accept a proposal made to the city.
	_, err = federation.Accept(p.TermsBytes, p.ProposerSignature, &other.card, other.fed, other.fed, "coord", now)
	require.Equal(t, "AGREEMENT_NOT_FOR_THIS_HUB", reasonOf(err))

	// Terms widened after signing (another resource offered) are refused.
	var widened federation.Terms
	require.NoError(t, json.Unmarshal(p.TermsBytes, &widened))
	widened.ProposerOffers = append(widened.ProposerOffers, "R-2")
	wb, _ := json.Marshal(widened)
	_, err = federation.Accept(wb, p.ProposerSignature, &city.card, city.fed, city.fed, "coord", now)
	require.Equal(t, "AGREEMENT_SIGNATURE_INVALID", reasonOf(err))

	// The proposer takes only the city's countersignature over its own terms.
	p2, err := federation.Propose(prov.terms(city, "R-1"), prov.fed, "coord", now)
	require.NoError(t, err)
	forged, err := other.fed.Sign(p2.TermsBytes)
	require.NoError(t, err)
	require.Equal(t, "AGREEMENT_SIGNATURE_INVALID", reasonOf(p2.Confirm(p2.TermsBytes, forged, prov.fed, "coord", now)))
	citySig, err := city.fed.Sign(wb)
	require.NoError(t, err)
	require.Equal(t, "AGREEMENT_TERMS_CHANGED", reasonOf(p2.Confirm(wb, citySig, prov.fed, "coord", now)))

	// A card signed by another hub's key does not open.
	cardBytes, _ := json.Marshal(city.card)
	sig, err := other.fed.Sign(cardBytes)
	require.NoError(t, err)
	_, err = federation.OpenCard(prov.fed, federation.Signed{Payload: cardBytes, Signature: sig})
	require.Equal(t, "HUB_CARD_SIGNATURE_INVALID", reasonOf(err))
	// A card whose federation certificate is another hub's pull certificate does not open
	// either (one purpose per key).
	swapped := city.card
	swapped.FederationCertPEM = city.card.PullCertPEM
	sb, _ := json.Marshal(swapped)
	sig, err = sm.Sign(city.pullKey, sb)
	require.NoError(t, err)
	_, err = federation.OpenCard(prov.fed, federation.Signed{Payload: sb, Signature: sig})
	require.Equal(t, "HUB_CARD_SIGNATURE_INVALID", reasonOf(err))
}

// TestAgreementStates: a suspension stops everything with who and why, only its maker lifts
// it, an ended agreement stays ended, and only offered resources flow.
func TestAgreementStates(t *testing.T) {
	prov, city := newTestHub(t, "prov", exchange.LevelProvincial, "500000"), newTestHub(t, "city", exchange.LevelMunicipal, "500100")
	now := time.Now()
	p, err := federation.Propose(prov.terms(city, "R-1"), prov.fed, "coord", now)
	require.NoError(t, err)
	require.Equal(t, federation.ReasonAgreementPending, reasonOf(p.Usable(now)))
	a, err := federation.Accept(p.TermsBytes, p.ProposerSignature, &city.card, city.fed, city.fed, "coord", now)
	require.NoError(t, err)
	require.NoError(t, a.Offers("prov", "R-1", now))
	require.Equal(t, federation.ReasonNotOffered, reasonOf(a.Offers("prov", "R-2", now)))
	require.Equal(t, federation.ReasonNotOffered, reasonOf(a.Offers("city", "R-1", now)), "the city offers nothing")
	require.Equal(t, federation.ReasonAgreementExpired, reasonOf(a.Usable(now.Add(2*time.Hour))))

	require.Equal(t, "REASON_REQUIRED", reasonOf(a.Apply(federation.ChangeSuspend, "prov", "coord", " ", nil, now)))
	require.NoError(t, a.Apply(federation.ChangeSuspend, "prov", "coord", "安全检查", nil, now))
	err = a.Offers("prov", "R-1", now)
	require.Equal(t, federation.ReasonAgreementSuspended, reasonOf(err))
	require.Contains(t, err.Error(), "suspended by hub prov")
	require.Contains(t, err.Error(), "安全检查")
	require.Equal(t, "AGREEMENT_SUSPENDED_BY_PEER", reasonOf(a.Apply(federation.ChangeResume, "city", "coord", "", nil, now)))
	require.NoError(t, a.Apply(federation.ChangeResume, "prov", "coord", "", nil, now))
	require.NoError(t, a.Offers("prov", "R-1", now))
	require.NoError(t, a.Apply(federation.ChangeEnd, "city", "coord", "撤并", nil, now))
	require.Equal(t, federation.ReasonAgreementEnded, reasonOf(a.Offers("prov", "R-1", now)))
	require.Error(t, a.Apply(federation.ChangeResume, "city", "coord", "", nil, now))
	require.Equal(t, 4, a.Version, "every change is a new version")
	require.Len(t, a.History, 4)
}

// TestCheckForward: the consumer's hub forwards only its department's own pulls for its
// own open case, for the subjects the case concerns.
func TestCheckForward(t *testing.T) {
	rq := &federation.RemoteRequirement{ID: "RQ-1", HomeHub: "prov", Consumer: "C1", Resource: "R-1", MatterCodes: []string{"M-1"}, State: exchange.ReqGranted}
	c := &federation.CaseAttestation{Number: "K-1", Matter: "M-1", Department: "C1", Region: "500100", State: string(exchange.CaseOpen), Applicant: "S-1", Parties: []string{"S-2"}}
	f := &federation.PullForward{RequirementID: "RQ-1", Resource: "R-1", MatterCode: "M-1", CaseNumber: "K-1", Subjects: []string{"S-1", "S-2"}}
	require.NoError(t, federation.CheckForward(f, rq, c, "C1"))
	require.Equal(t, exchange.ReasonRequirementForeign, reasonOf(federation.CheckForward(f, rq, c, "C2")))
	other := *c
	other.Department = "C2"
	require.Equal(t, exchange.ReasonCaseForeign, reasonOf(federation.CheckForward(f, rq, &other, "C1")))
	closed := *c
	closed.State = string(exchange.CaseClosed)
	require.Equal(t, exchange.ReasonCaseClosed, reasonOf(federation.CheckForward(f, rq, &closed, "C1")))
	stranger := *f
	stranger.Subjects = []string{"S-9"}
	require.Equal(t, exchange.ReasonCaseSubjectMismatch, reasonOf(federation.CheckForward(&stranger, rq, c, "C1")))
	purpose := *f
	purpose.MatterCode = "M-2"
	require.Equal(t, exchange.ReasonPurposeNotCovered, reasonOf(federation.CheckForward(&purpose, rq, c, "C1")))
	revoked := *rq
	revoked.State = exchange.ReqRevoked
	require.Equal(t, exchange.ReasonRequirementNotGrant, reasonOf(federation.CheckForward(f, &revoked, c, "C1")))
	require.Equal(t, exchange.ReasonCaseNotFound, reasonOf(federation.CheckForward(f, rq, nil, "C1")))
}

// TestReceiptChainVerifiesOfflineAndEveryLinkMatters builds a forwarded pull's chain with
// real keys and breaks each link as an insider at either hub would.
func TestReceiptChainVerifiesOfflineAndEveryLinkMatters(t *testing.T) {
	prov, city := newTestHub(t, "prov", exchange.LevelProvincial, "500000"), newTestHub(t, "city", exchange.LevelMunicipal, "500100")
	now := time.Now().UTC()
	const dept = "11500000000000051M"
	deptKey, err := sm.GenerateKey()
	require.NoError(t, err)
	deptCert, err := city.issuing.IssueDepartmentCert(&deptKey.PublicKey, pki.DepartmentSubject{Code: dept, Name: "公积金中心", Region: "重庆市"}, now.Add(-time.Minute), time.Hour)
	require.NoError(t, err)
	signed := &exchangev1.PullRemoteRequest{HomeHub: "prov", Pull: &exchangev1.PullRequest{RequirementId: "RQ-1", MatterCode: "M-1", CaseNumber: "K-1", Subjects: []string{"S-1"}}}
	body, err := proto.MarshalOptions{Deterministic: true}.Marshal(signed)
	require.NoError(t, err)
	auth, err := reqsig.Sign(deptKey, dept, "POST", "/gxhub.exchange.v1.FederationService/PullRemote", body, now)
	require.NoError(t, err)
	consumer := federation.ConsumerRequest{Department: dept, CertPEM: string(pki.EncodeCertsPEM(deptCert)), Authorization: auth,
		Method: "/gxhub.exchange.v1.FederationService/PullRemote", Body: body}

	build := func(mut func(fw *federation.PullForward, resp *federation.Response, ans *federation.PullAnswer, r *federation.RelayReceipt)) federation.Signed {
		fw := federation.PullForward{PullID: "P-1", ForwardIndex: 41, ForwardLog: "city-log", RequirementID: "RQ-1", MatterCode: "M-1", CaseNumber: "K-1",
			Subjects: []string{"S-1"}, Consumer: consumer}
		payload := []byte("signed pull result")
		pullSig, err := sm.Sign(prov.pullKey, payload)
		require.NoError(t, err)
		ans := federation.PullAnswer{Payload: payload, Signature: pullSig, AuditRefs: []uint64{17}, LogID: "prov-log"}
		r := federation.RelayReceipt{Agreement: "FA-1", Consumer: dept, ConsumerHub: "city", HomeHub: "prov", PullID: "P-1", LogID: "city-log",
			ForwardIndex: 41, OutcomeIndices: []uint64{42}, HomeLogID: "prov-log", HomeAuditRefs: []uint64{17}, PayloadDigest: server.SM3Hex(payload)}
		resp := federation.Response{Op: federation.OpPull, From: "prov", At: now}
		if mut != nil {
			mut(&fw, &resp, &ans, &r)
		}
		fb, _ := json.Marshal(fw)
		req, err := federation.Sign(city.fed, federation.Request{Op: federation.OpPull, Agreement: "FA-1", From: "city", To: "prov", At: now, Nonce: "n", Body: fb})
		require.NoError(t, err)
		if resp.RequestDigest == "" {
			resp.RequestDigest = server.SM3Hex(req.Payload)
		}
		resp.Body, _ = json.Marshal(ans)
		answer, err := federation.Sign(prov.fed, resp)
		require.NoError(t, err)
		r.Request = federation.Envelope{Agreement: "FA-1", From: "city", Signed: req}
		r.Answer = federation.Envelope{Agreement: "FA-1", From: "prov", Signed: answer}
		s, err := federation.Sign(city.fed, r)
		require.NoError(t, err)
		return s
	}
	verify := func(s federation.Signed) error {
		_, err := federation.VerifyReceipt(s, &city.card, &prov.card, city.fed, server.SM3Hex, func(root, issuing string, c *federation.ConsumerRequest) error {
			_, err := server.VerifyConsumerRequestOffline(root, issuing, c)
			return err
		})
		return err
	}
	require.NoError(t, verify(build(nil)))

	for name, mut := range map[string]func(fw *federation.PullForward, resp *federation.Response, ans *federation.PullAnswer, r *federation.RelayReceipt){
		"answer bound to another request": func(_ *federation.PullForward, resp *federation.Response, _ *federation.PullAnswer, _ *federation.RelayReceipt) {
			resp.RequestDigest = "00"
		},
		"result altered after signing": func(_ *federation.PullForward, _ *federation.Response, ans *federation.PullAnswer, _ *federation.RelayReceipt) {
			ans.Payload = []byte("other")
		},
		"receipt names other home indices": func(_ *federation.PullForward, _ *federation.Response, _ *federation.PullAnswer, r *federation.RelayReceipt) {
			r.HomeAuditRefs = []uint64{18}
		},
		"receipt names another forward": func(_ *federation.PullForward, _ *federation.Response, _ *federation.PullAnswer, r *federation.RelayReceipt) {
			r.ForwardIndex = 40
		},
		"home hub refused": func(_ *federation.PullForward, resp *federation.Response, _ *federation.PullAnswer, _ *federation.RelayReceipt) {
			resp.Error = &federation.RemoteError{Reason: "X"}
		},
		"receipt names another consumer": func(_ *federation.PullForward, _ *federation.Response, _ *federation.PullAnswer, r *federation.RelayReceipt) {
			r.Consumer = "11500000000000019A"
		},
		"consumer's body swapped": func(fw *federation.PullForward, _ *federation.Response, _ *federation.PullAnswer, _ *federation.RelayReceipt) {
			fw.Consumer.Body = []byte("x")
		},
		"consumer claims another department": func(fw *federation.PullForward, _ *federation.Response, _ *federation.PullAnswer, _ *federation.RelayReceipt) {
			fw.Consumer.Department = "11500000000000019A"
		},
	} {
		require.Error(t, verify(build(mut)), name)
	}
	// A result signed with the home hub's federation key instead of its pull key does not
	// pass for a pull result.
	require.Error(t, verify(build(func(_ *federation.PullForward, _ *federation.Response, ans *federation.PullAnswer, _ *federation.RelayReceipt) {
		ans.Signature, _ = prov.fed.Sign(ans.Payload)
	})))
	// A receipt signed by the home hub instead of the consumer hub does not verify.
	var r federation.RelayReceipt
	good := build(nil)
	require.NoError(t, json.Unmarshal(good.Payload, &r))
	bad, err := federation.Sign(prov.fed, r)
	require.NoError(t, err)
	require.Error(t, verify(bad))
	// A consumer certificate from the home hub's CA (not the consumer hub's) is refused.
	otherCert, err := prov.issuing.IssueDepartmentCert(&deptKey.PublicKey, pki.DepartmentSubject{Code: dept, Name: "x", Region: "x"}, now.Add(-time.Minute), time.Hour)
	require.NoError(t, err)
	c2 := consumer
	c2.CertPEM = string(pki.EncodeCertsPEM(otherCert))
	_, err = server.VerifyConsumerRequestOffline(city.card.RootPEM, city.card.IssuingPEM, &c2)
	require.Error(t, err)
}

func reasonOf(err error) string {
	reason, _ := exchange.ErrorOf(err)
	return reason
}
