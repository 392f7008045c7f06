package federation

import (
	"encoding/json"
	"time"

	"github.com/gxhub/gxhub/exchange"
)

// Peer operations: what one hub asks another.
const (
	OpConfirm         = "agreement.confirm" // the acceptor's countersignature, to the proposer
	OpNotice          = "agreement.notice"  // a suspension, resumption or end, to the other side
	OpCatalog         = "catalog"           // the resources the home hub offers the asker
	OpRequirementFile = "requirement.file"  // a consumer's requirement, filed at the home hub
	OpRequirementGet  = "requirement.get"   // a requirement's state and decisions
	OpPull            = "pull"              // a consumer's pull, forwarded
)

// MaxSkew bounds how far a peer request's time may be from the receiver's clock.
const MaxSkew = 5 * time.Minute

// Request is what a hub signs when it asks a peer. The signature (Signed) is made with
// the sender's federation key; Nonce is used once at the receiver.
type Request struct {
	Op        string          `json:"op"`
	Agreement string          `json:"agreement"`
	From      string          `json:"from"`
	To        string          `json:"to"`
	At        time.Time       `json:"at"`
	Nonce     string          `json:"nonce"`
	Body      json.RawMessage `json:"body"`
}

// Envelope is a signed Request or Response on the wire, with the agreement and sender
// in clear so that the receiver knows which pinned key to check it with.
type Envelope struct {
	Agreement string `json:"agreement"`
	From      string `json:"from"`
	Signed
}

// Response is what a peer signs when it answers: bound to the request it answers by the
// request's digest.
type Response struct {
	Op            string          `json:"op"`
	From          string          `json:"from"`
	RequestDigest string          `json:"request_digest"`
	At            time.Time       `json:"at"`
	Error         *RemoteError    `json:"error,omitempty"`
	Body          json.RawMessage `json:"body,omitempty"`
}

// RemoteError is a peer's refusal: its kind, reason and message, relayed as the peer said.
type RemoteError struct {
	Kind    exchange.Kind `json:"kind"`
	Reason  string        `json:"reason"`
	Message string        `json:"message"`
}

// CheckRequest checks a peer request against the agreement it names at the receiver self:
// the sender is the agreement's peer, the request is addressed to self, and it is fresh.
// The signature is checked by Open before; the nonce by the caller's nonce store.
func CheckRequest(r *Request, a *Agreement, now time.Time) error {
	if r.From != a.Peer().ID || r.To != a.Self().ID || r.Agreement != a.Terms.ID {
		return exchange.Errorf(exchange.KindPermissionDenied, "PEER_MISMATCH", "the request names hubs %s → %s under %s, not this agreement's %s → %s", r.From, r.To, r.Agreement, a.Peer().ID, a.Self().ID)
	}
	if d := now.Sub(r.At); d > MaxSkew || d < -MaxSkew {
		return exchange.Errorf(exchange.KindUnauthenticated, "PEER_REQUEST_STALE", "the request was signed at %s, more than %s from this hub's clock", r.At.Format(time.RFC3339), MaxSkew)
	}
	if r.Nonce == "" || len(r.Nonce) > 64 {
		return exchange.Errorf(exchange.KindInvalid, "PEER_NONCE_INVALID", "a peer request carries a nonce of 1 to 64 characters")
	}
	return nil
}

// Notice is a signed change of an agreement's state sent to the other side.
type Notice struct {
	Change Change    `json:"change"`
	By     string    `json:"by"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

// Confirmation carries the acceptor's countersignature to the proposer.
type Confirmation struct {
	Terms     []byte `json:"terms"`
	Signature []byte `json:"signature"`
}
