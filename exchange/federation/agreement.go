// Package federation holds the rules of hubs that share with each other across levels and
// regions (province ⇄ city ⇄ district): the agreements two hubs' coordinators sign, what
// a hub may forward to another under one, and the checks every forwarded message passes.
// Standard library only; the SM2 signatures it needs are given to it as Signer and
// Verifier (the server wires certs/sm).
//
// Trust model (docs/FEDERATION.md): a hub trusts another hub only through an active
// agreement that both coordinators signed. The agreement pins the other hub's identity: its
// CA root (which certifies its departments and its own keys) and the certificate of its
// federation key (which signs every message it sends to a peer). Nothing a peer says is
// taken without that signature, and each side enforces its own copy of the agreement: a
// side that suspends or ends it stops forwarding and answering at once, whatever the other
// side believes.
package federation

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/gxhub/gxhub/exchange"
)

// HubCard is a hub's identity as a peer sees it: signed by the hub's federation key.
type HubCard struct {
	ID     string         `json:"id"`     // short name, e.g. "cq-province"
	Name   string         `json:"name"`   // e.g. "重庆市政务数据共享交换平台"
	Level  exchange.Level `json:"level"`  // provincial, municipal, county
	Region string         `json:"region"` // 6-digit 行政区划代码
	URL    string         `json:"url"`    // base URL peers call
	// RootPEM is the hub's CA root: it certifies the hub's departments and its own keys.
	RootPEM string `json:"root_pem"`
	// IssuingPEM is the hub CA's issuing certificate (intermediate under RootPEM).
	IssuingPEM string `json:"issuing_pem"`
	// FederationCertPEM certifies the key that signs the hub's messages to peers.
	FederationCertPEM string `json:"federation_cert_pem"`
	// PullCertPEM certifies the key that signs the hub's pull responses.
	PullCertPEM string `json:"pull_cert_pem"`
	// TLSCAPEM is the transport CA peers trust to reach URL over TLS ("" for http).
	TLSCAPEM string `json:"tls_ca_pem,omitempty"`
}

var hubIDRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,39}$`)
var regionRE = regexp.MustCompile(`^[1-9][0-9]{5}$`)

// ValidateHubID checks a hub id.
func ValidateHubID(id string) error {
	if !hubIDRE.MatchString(id) {
		return exchange.Errorf(exchange.KindInvalid, "HUB_ID_INVALID", "hub id %q: use 2 to 40 lower-case letters, digits and dashes (e.g. cq-province)", id)
	}
	return nil
}

// Validate checks the card's fields (not its certificates: the Verifier does).
func (c *HubCard) Validate() error {
	if err := ValidateHubID(c.ID); err != nil {
		return err
	}
	if n := strings.TrimSpace(c.Name); n == "" || len([]rune(n)) > 128 {
		return exchange.Errorf(exchange.KindInvalid, "HUB_NAME_INVALID", "hub %s: the name must be 1 to 128 characters", c.ID)
	}
	if c.Level < exchange.LevelNational || c.Level > exchange.LevelTownship {
		return exchange.Errorf(exchange.KindInvalid, "HUB_LEVEL_INVALID", "hub %s: level %d is not national, provincial, municipal, county or township", c.ID, c.Level)
	}
	if !regionRE.MatchString(c.Region) {
		return exchange.Errorf(exchange.KindInvalid, "HUB_REGION_INVALID", "hub %s: region %q is not a 6-digit 行政区划代码", c.ID, c.Region)
	}
	if !strings.HasPrefix(c.URL, "https://") && !strings.HasPrefix(c.URL, "http://") {
		return exchange.Errorf(exchange.KindInvalid, "HUB_URL_INVALID", "hub %s: url %q must start with https:// (or http:// for a local test)", c.ID, c.URL)
	}
	if c.RootPEM == "" || c.FederationCertPEM == "" || c.PullCertPEM == "" {
		return exchange.Errorf(exchange.KindInvalid, "HUB_CARD_INCOMPLETE", "hub %s: the card must carry the CA root, the federation certificate and the pull certificate", c.ID)
	}
	return nil
}

// SameIdentity reports whether two cards name the same hub with the same keys (the URL and
// TLS trust may change without a new agreement).
func (c *HubCard) SameIdentity(o *HubCard) bool {
	return c.ID == o.ID && c.RootPEM == o.RootPEM && c.FederationCertPEM == o.FederationCertPEM && c.PullCertPEM == o.PullCertPEM
}

// Signed is a document and a hub's SM2 signature over exactly its bytes. Receivers verify
// over the bytes received and only then decode them.
type Signed struct {
	Payload   []byte `json:"payload"`
	Signature []byte `json:"signature"`
}

// Signer signs with the hub's federation key.
type Signer interface {
	Sign(msg []byte) ([]byte, error)
}

// Verifier checks a peer's signature: that certPEM chains to rootPEM (issuingPEM between),
// is certified for purpose ("federation" or "pull") and that its key signed msg.
type Verifier interface {
	Verify(rootPEM, issuingPEM, certPEM, purpose string, msg, sig []byte) error
}

// Purposes a Verifier is asked to check.
const (
	PurposeFederation = "federation"
	PurposePull       = "pull"
)

// Sign encodes v as JSON and signs it.
func Sign(s Signer, v any) (Signed, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return Signed{}, err
	}
	sig, err := s.Sign(b)
	if err != nil {
		return Signed{}, err
	}
	return Signed{Payload: b, Signature: sig}, nil
}

// Open verifies s as signed by card's federation key and decodes it into v.
func Open(ver Verifier, card *HubCard, s Signed, v any) error {
	if err := ver.Verify(card.RootPEM, card.IssuingPEM, card.FederationCertPEM, PurposeFederation, s.Payload, s.Signature); err != nil {
		return exchange.Wrap(exchange.KindUnauthenticated, "PEER_SIGNATURE_INVALID", err, "the message does not carry a valid signature of hub %s's federation key", card.ID)
	}
	dec := json.NewDecoder(bytes.NewReader(s.Payload))
	if err := dec.Decode(v); err != nil {
		return exchange.Wrap(exchange.KindInvalid, "PEER_MESSAGE_INVALID", err, "the signed message of hub %s does not decode", card.ID)
	}
	return nil
}

// OpenCard verifies a self-signed hub card: the card's own federation key signed it, and
// its federation certificate chains to its root. Whether to trust that root is the
// coordinator's decision (the agreement); this only proves the card is whole.
func OpenCard(ver Verifier, s Signed) (*HubCard, error) {
	var c HubCard
	if err := json.Unmarshal(s.Payload, &c); err != nil {
		return nil, exchange.Wrap(exchange.KindInvalid, "HUB_CARD_INVALID", err, "the hub card does not decode: pass the file `gxctl federation identity` wrote")
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if err := ver.Verify(c.RootPEM, c.IssuingPEM, c.FederationCertPEM, PurposeFederation, s.Payload, s.Signature); err != nil {
		return nil, exchange.Wrap(exchange.KindInvalid, "HUB_CARD_SIGNATURE_INVALID", err, "hub card %s is not signed by its own federation key under its own root", c.ID)
	}
	return &c, nil
}

// Terms are what both coordinators sign: the two hubs, what each offers the other, and
// for how long.
type Terms struct {
	ID       string  `json:"id"`
	Proposer HubCard `json:"proposer"`
	Acceptor HubCard `json:"acceptor"`
	// ProposerOffers are the resource codes of the proposer's catalogue offered to the
	// acceptor's departments; AcceptorOffers the other way.
	ProposerOffers []string  `json:"proposer_offers"`
	AcceptorOffers []string  `json:"acceptor_offers"`
	ValidFrom      time.Time `json:"valid_from"`
	ValidUntil     time.Time `json:"valid_until"`
	ProposedAt     time.Time `json:"proposed_at"`
}

var resourceRE = regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z._-]{0,63}$`)

// Validate checks the terms.
func (t *Terms) Validate() error {
	if t.ID == "" || len(t.ID) > 64 {
		return exchange.Errorf(exchange.KindInvalid, "AGREEMENT_ID_INVALID", "agreement id must be 1 to 64 characters")
	}
	if err := t.Proposer.Validate(); err != nil {
		return err
	}
	if err := t.Acceptor.Validate(); err != nil {
		return err
	}
	if t.Proposer.ID == t.Acceptor.ID {
		return exchange.Errorf(exchange.KindInvalid, "AGREEMENT_SELF", "an agreement is between two different hubs; both are %s", t.Proposer.ID)
	}
	if len(t.ProposerOffers) == 0 && len(t.AcceptorOffers) == 0 {
		return exchange.Errorf(exchange.KindInvalid, "AGREEMENT_EMPTY", "the agreement offers nothing either way: name at least one resource (--offer or --request)")
	}
	for _, list := range [][]string{t.ProposerOffers, t.AcceptorOffers} {
		for _, r := range list {
			if !resourceRE.MatchString(r) {
				return exchange.Errorf(exchange.KindInvalid, "AGREEMENT_RESOURCE_INVALID", "%q is not a resource code", r)
			}
		}
		if len(list) > 1024 {
			return exchange.Errorf(exchange.KindInvalid, "AGREEMENT_RESOURCE_INVALID", "an agreement names at most 1024 resources each way")
		}
	}
	if t.ValidFrom.IsZero() || t.ValidUntil.IsZero() || !t.ValidUntil.After(t.ValidFrom) {
		return exchange.Errorf(exchange.KindInvalid, "AGREEMENT_VALIDITY_INVALID", "the agreement needs a validity: valid_until after valid_from")
	}
	return nil
}

// State is where an agreement stands at one hub.
type State string

// Agreement states. proposed → active (both signed) → suspended ⇄ active; any → ended.
const (
	StateProposed  State = "proposed"
	StateActive    State = "active"
	StateSuspended State = "suspended"
	StateEnded     State = "ended"
)

// Side is which side of the agreement a hub is.
type Side string

// Sides.
const (
	SideProposer Side = "proposer"
	SideAcceptor Side = "acceptor"
)

// Event is one entry of an agreement's history at a hub.
type Event struct {
	Version int       `json:"version"`
	At      time.Time `json:"at"`
	State   State     `json:"state"`
	ByHub   string    `json:"by_hub"`           // the hub whose coordinator acted
	By      string    `json:"by"`               // the department (coordinator) that acted, at that hub
	Reason  string    `json:"reason"`           // free text (suspension, end)
	Signed  *Signed   `json:"signed,omitempty"` // the signed notice of the other hub, when it acted
}

// Agreement is one hub's copy of an agreement: the signed terms, its state, its history.
type Agreement struct {
	// TermsBytes are the terms exactly as both coordinators' hubs signed them.
	TermsBytes        []byte    `json:"terms"`
	ProposerSignature []byte    `json:"proposer_signature"`
	AcceptorSignature []byte    `json:"acceptor_signature,omitempty"`
	Terms             Terms     `json:"-"`
	Local             Side      `json:"local"`
	State             State     `json:"state"`
	Version           int       `json:"version"`
	UpdatedAt         time.Time `json:"updated_at"`
	History           []Event   `json:"history"`
}

// Decode parses TermsBytes into Terms (after loading a stored copy).
func (a *Agreement) Decode() error {
	if err := json.Unmarshal(a.TermsBytes, &a.Terms); err != nil {
		return fmt.Errorf("decode agreement terms: %w", err)
	}
	return nil
}

// Self is this hub's card in the agreement, Peer the other hub's.
func (a *Agreement) Self() *HubCard {
	if a.Local == SideProposer {
		return &a.Terms.Proposer
	}
	return &a.Terms.Acceptor
}

// Peer is the other hub's card.
func (a *Agreement) Peer() *HubCard {
	if a.Local == SideProposer {
		return &a.Terms.Acceptor
	}
	return &a.Terms.Proposer
}

// OfferedBy returns the resources hub offers the other side.
func (a *Agreement) OfferedBy(hub string) []string {
	switch hub {
	case a.Terms.Proposer.ID:
		return a.Terms.ProposerOffers
	case a.Terms.Acceptor.ID:
		return a.Terms.AcceptorOffers
	}
	return nil
}

// Propose makes the proposer's copy: terms signed by the proposer's hub, state proposed.
func Propose(t Terms, s Signer, by string, now time.Time) (*Agreement, error) {
	t.ProposerOffers, t.AcceptorOffers = sortedUnique(t.ProposerOffers), sortedUnique(t.AcceptorOffers)
	if err := t.Validate(); err != nil {
		return nil, err
	}
	signed, err := Sign(s, t)
	if err != nil {
		return nil, err
	}
	a := &Agreement{TermsBytes: signed.Payload, ProposerSignature: signed.Signature, Terms: t, Local: SideProposer, State: StateProposed, Version: 1, UpdatedAt: now}
	a.History = []Event{{Version: 1, At: now, State: StateProposed, ByHub: t.Proposer.ID, By: by}}
	return a, nil
}

func sortedUnique(s []string) []string {
	out := slices.Clone(s)
	for i := range out {
		out[i] = strings.TrimSpace(out[i])
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Accept checks a proposal received by the acceptor hub self and countersigns it. The
// proposer's signature must verify with the proposer's own card, and the acceptor card in
// the terms must be self (same id and keys): a hub signs only what names it correctly.
func Accept(termsBytes, proposerSig []byte, self *HubCard, ver Verifier, s Signer, by string, now time.Time) (*Agreement, error) {
	a := &Agreement{TermsBytes: termsBytes, ProposerSignature: proposerSig, Local: SideAcceptor}
	if err := a.Decode(); err != nil {
		return nil, exchange.Wrap(exchange.KindInvalid, "AGREEMENT_INVALID", err, "the proposal does not decode: pass the file `gxctl federation propose` wrote")
	}
	if err := a.Terms.Validate(); err != nil {
		return nil, err
	}
	t := &a.Terms
	if !t.Acceptor.SameIdentity(self) {
		return nil, exchange.Errorf(exchange.KindPermissionDenied, "AGREEMENT_NOT_FOR_THIS_HUB",
			"the proposal is addressed to hub %s with other keys than this hub's (%s): ask the proposer for a proposal made with this hub's current card (gxctl federation identity)", t.Acceptor.ID, self.ID)
	}
	if err := ver.Verify(t.Proposer.RootPEM, t.Proposer.IssuingPEM, t.Proposer.FederationCertPEM, PurposeFederation, termsBytes, proposerSig); err != nil {
		return nil, exchange.Wrap(exchange.KindInvalid, "AGREEMENT_SIGNATURE_INVALID", err, "the proposal is not signed by hub %s's federation key", t.Proposer.ID)
	}
	if !now.Before(t.ValidUntil) {
		return nil, exchange.Errorf(exchange.KindFailedPrecondition, "AGREEMENT_EXPIRED", "the proposal was valid until %s: ask for a new one", t.ValidUntil.Format(time.DateOnly))
	}
	sig, err := s.Sign(termsBytes)
	if err != nil {
		return nil, err
	}
	a.AcceptorSignature, a.State, a.Version, a.UpdatedAt = sig, StateActive, 1, now
	a.History = []Event{{Version: 1, At: now, State: StateActive, ByHub: self.ID, By: by, Reason: "accepted and countersigned"}}
	return a, nil
}

// Confirm activates the proposer's copy with the acceptor's countersignature.
func (a *Agreement) Confirm(termsBytes, acceptorSig []byte, ver Verifier, by string, now time.Time) error {
	if a.Local != SideProposer {
		return exchange.Errorf(exchange.KindFailedPrecondition, "AGREEMENT_ALREADY_ACCEPTED", "this hub accepted agreement %s itself", a.Terms.ID)
	}
	if !bytes.Equal(termsBytes, a.TermsBytes) {
		return exchange.Errorf(exchange.KindInvalid, "AGREEMENT_TERMS_CHANGED", "the countersigned terms of %s differ from what this hub proposed: nothing was changed", a.Terms.ID)
	}
	p := a.Peer()
	if err := ver.Verify(p.RootPEM, p.IssuingPEM, p.FederationCertPEM, PurposeFederation, termsBytes, acceptorSig); err != nil {
		return exchange.Wrap(exchange.KindInvalid, "AGREEMENT_SIGNATURE_INVALID", err, "the countersignature is not hub %s's", p.ID)
	}
	if a.State != StateProposed {
		return exchange.Errorf(exchange.KindFailedPrecondition, "AGREEMENT_NOT_PROPOSED", "agreement %s is %s, not proposed", a.Terms.ID, a.State)
	}
	a.AcceptorSignature = acceptorSig
	a.transition(StateActive, a.Self().ID, by, "countersigned by "+p.ID, nil, now)
	return nil
}

func (a *Agreement) transition(s State, byHub, by, reason string, signed *Signed, now time.Time) {
	a.State, a.Version, a.UpdatedAt = s, a.Version+1, now
	a.History = append(a.History, Event{Version: a.Version, At: now, State: s, ByHub: byHub, By: by, Reason: reason, Signed: signed})
}

// Change is a coordinator's change of an agreement's state.
type Change string

// Changes.
const (
	ChangeSuspend Change = "suspend"
	ChangeResume  Change = "resume"
	ChangeEnd     Change = "end"
)

// Apply makes a change at this hub (byHub is this hub for its own coordinator, the peer for
// a signed notice). A suspension by one side is lifted only by that side.
func (a *Agreement) Apply(c Change, byHub, by, reason string, signed *Signed, now time.Time) error {
	if strings.TrimSpace(reason) == "" && c != ChangeResume {
		return exchange.Errorf(exchange.KindInvalid, "REASON_REQUIRED", "say why (--reason): the other hub and the auditors read it")
	}
	switch c {
	case ChangeSuspend:
		if a.State != StateActive {
			return exchange.Errorf(exchange.KindFailedPrecondition, "AGREEMENT_NOT_ACTIVE", "agreement %s is %s: only an active agreement is suspended", a.Terms.ID, a.State)
		}
		a.transition(StateSuspended, byHub, by, reason, signed, now)
	case ChangeResume:
		if a.State != StateSuspended {
			return exchange.Errorf(exchange.KindFailedPrecondition, "AGREEMENT_NOT_SUSPENDED", "agreement %s is %s, not suspended", a.Terms.ID, a.State)
		}
		if last := a.lastSuspension(); last != nil && last.ByHub != byHub {
			return exchange.Errorf(exchange.KindPermissionDenied, "AGREEMENT_SUSPENDED_BY_PEER", "agreement %s was suspended by hub %s: only that hub resumes it", a.Terms.ID, last.ByHub)
		}
		a.transition(StateActive, byHub, by, reason, signed, now)
	case ChangeEnd:
		if a.State == StateEnded {
			return exchange.Errorf(exchange.KindFailedPrecondition, "AGREEMENT_ENDED", "agreement %s has already ended", a.Terms.ID)
		}
		a.transition(StateEnded, byHub, by, reason, signed, now)
	default:
		return exchange.Errorf(exchange.KindInvalid, "CHANGE_INVALID", "unknown change %q: suspend, resume or end", c)
	}
	return nil
}

func (a *Agreement) lastSuspension() *Event {
	for i := len(a.History) - 1; i >= 0; i-- {
		if a.History[i].State == StateSuspended {
			return &a.History[i]
		}
	}
	return nil
}

// Agreement refusal reasons.
const (
	ReasonNoAgreement        = "FEDERATION_NO_AGREEMENT"
	ReasonAgreementSuspended = "FEDERATION_AGREEMENT_SUSPENDED"
	ReasonAgreementEnded     = "FEDERATION_AGREEMENT_ENDED"
	ReasonAgreementPending   = "FEDERATION_AGREEMENT_NOT_ACCEPTED"
	ReasonAgreementExpired   = "FEDERATION_AGREEMENT_EXPIRED"
	ReasonNotOffered         = "FEDERATION_RESOURCE_NOT_OFFERED"
	ReasonRemoteUnavailable  = "FEDERATION_REMOTE_UNAVAILABLE"
)

// Usable reports whether the agreement lets the hubs exchange now, with a reason that says
// who stopped it and why.
func (a *Agreement) Usable(now time.Time) error {
	t := &a.Terms
	switch a.State {
	case StateActive:
	case StateProposed:
		return exchange.Errorf(exchange.KindFailedPrecondition, ReasonAgreementPending, "agreement %s with hub %s is not accepted yet: nothing flows under it", t.ID, a.Peer().ID)
	case StateSuspended:
		e := a.lastSuspension()
		return exchange.Errorf(exchange.KindFailedPrecondition, ReasonAgreementSuspended, "agreement %s between hubs %s and %s was suspended by hub %s on %s (%s): nothing flows under it until that hub resumes it",
			t.ID, t.Proposer.ID, t.Acceptor.ID, e.ByHub, e.At.Format(time.RFC3339), e.Reason)
	case StateEnded:
		e := a.History[len(a.History)-1]
		return exchange.Errorf(exchange.KindFailedPrecondition, ReasonAgreementEnded, "agreement %s between hubs %s and %s was ended by hub %s on %s (%s)",
			t.ID, t.Proposer.ID, t.Acceptor.ID, e.ByHub, e.At.Format(time.RFC3339), e.Reason)
	default:
		return exchange.Errorf(exchange.KindInternal, "AGREEMENT_STATE_UNKNOWN", "agreement %s is in unknown state %q", t.ID, a.State)
	}
	if now.Before(t.ValidFrom) || !now.Before(t.ValidUntil) {
		return exchange.Errorf(exchange.KindFailedPrecondition, ReasonAgreementExpired, "agreement %s is valid from %s until %s, not now", t.ID, t.ValidFrom.Format(time.RFC3339), t.ValidUntil.Format(time.RFC3339))
	}
	return nil
}

// Offers checks that the agreement is usable and that home offers resource to the other hub.
func (a *Agreement) Offers(home, resource string, now time.Time) error {
	if err := a.Usable(now); err != nil {
		return err
	}
	if !slices.Contains(a.OfferedBy(home), resource) {
		return exchange.Errorf(exchange.KindPermissionDenied, ReasonNotOffered, "hub %s does not offer resource %s under agreement %s (it offers: %s)",
			home, resource, a.Terms.ID, strings.Join(a.OfferedBy(home), ", "))
	}
	return nil
}

// RemoteDepartment is how a hub names a department of a peer hub in its own records (a
// requirement's consumer, an audit record's department): "<hub id>:<code>". No local
// department code (a 统一社会信用代码) contains a colon, so a local department can never
// pass for a remote one.
func RemoteDepartment(hub, code string) string { return hub + ":" + code }

// SplitRemoteDepartment splits a RemoteDepartment name; ok is false for a local code.
func SplitRemoteDepartment(s string) (hub, code string, ok bool) {
	return strings.Cut(s, ":")
}
