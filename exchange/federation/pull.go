package federation

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/gxhub/gxhub/exchange"
)

// ConsumerRequest is the consumer department's own signed request, exactly as its hub
// received it: the home hub checks the signature itself, with the consumer hub's root that
// the agreement pins, so that the consumer hub cannot make up a consumer's request.
type ConsumerRequest struct {
	Department    string `json:"department"` // its code at the consumer hub
	Operator      string `json:"operator,omitempty"`
	CertPEM       string `json:"cert_pem"`      // the signer's certificate (consumer hub CA)
	Authorization string `json:"authorization"` // GXHUB-SM2 <JWS>
	Method        string `json:"method"`        // the RPC it signed
	Body          []byte `json:"body"`          // the request bytes it signed
}

// CaseAttestation is the consumer hub's statement of the case a pull serves, signed with
// the forward request: the home hub cannot see the consumer hub's case registry, so it
// checks the case invariants on what the consumer hub attests.
type CaseAttestation struct {
	Number     string   `json:"number"`
	Matter     string   `json:"matter"`
	Department string   `json:"department"` // the consumer's code at its hub
	Region     string   `json:"region"`
	State      string   `json:"state"`
	Applicant  string   `json:"applicant"`
	Parties    []string `json:"parties,omitempty"`
}

// PullForward is the body of a forwarded pull (OpPull).
type PullForward struct {
	PullID        string          `json:"pull_id"`       // the consumer hub's id of the pull
	ForwardIndex  uint64          `json:"forward_index"` // the consumer hub's log index of its forward record
	ForwardLog    string          `json:"forward_log"`   // that log's id
	RequirementID string          `json:"requirement_id"`
	Resource      string          `json:"resource"`
	MatterCode    string          `json:"matter_code"`
	CaseNumber    string          `json:"case_number"`
	Subjects      []string        `json:"subjects"`
	Items         []string        `json:"items,omitempty"`
	FreshOnly     bool            `json:"fresh_only,omitempty"`
	ScopeRegion   string          `json:"scope_region,omitempty"`
	Consumer      ConsumerRequest `json:"consumer"`
	Case          CaseAttestation `json:"case"`
}

// PullAnswer is the body of the home hub's answer to a forwarded pull: the pull result
// signed with its pull key (as it signs its own departments' pulls) and the indices of its
// audit records of the pull.
type PullAnswer struct {
	Payload   []byte   `json:"payload"`
	Signature []byte   `json:"signature"`
	AuditRefs []uint64 `json:"audit_refs"`
	LogID     string   `json:"log_id"`
}

// RelayReceipt is what the consumer hub signs and returns with a forwarded pull: the
// forward request it signed, the home hub's signed answer, and its own log indices.
// Together with the two hubs' cards it is verifiable offline (VerifyReceipt).
type RelayReceipt struct {
	Agreement      string   `json:"agreement"`
	Consumer       string   `json:"consumer"`
	ConsumerHub    string   `json:"consumer_hub"`
	HomeHub        string   `json:"home_hub"`
	PullID         string   `json:"pull_id"`
	LogID          string   `json:"log_id"`
	ForwardIndex   uint64   `json:"forward_index"`
	OutcomeIndices []uint64 `json:"outcome_indices"`
	HomeLogID      string   `json:"home_log_id"`
	HomeAuditRefs  []uint64 `json:"home_audit_refs"`
	PayloadDigest  string   `json:"payload_digest"` // SM3 of the home hub's signed pull result, hex
	Request        Envelope `json:"request"`        // the forward request as sent
	Answer         Envelope `json:"answer"`         // the home hub's signed answer
}

// CheckForward checks a forward at the consumer's hub before anything leaves it: the
// requirement is the caller's own and is for the named home hub's resource, the case is
// the caller's own open case for the matter, and every subject is one the case concerns.
// The agreement (Offers) is checked separately. The home hub checks the rest (requirement
// state, items, masking) by its own rules.
func CheckForward(f *PullForward, rq *RemoteRequirement, c *CaseAttestation, caller string) error {
	denied := func(reason, format string, args ...any) error {
		return exchange.Errorf(exchange.KindPermissionDenied, reason, format, args...)
	}
	switch {
	case rq.Consumer != caller:
		return denied(exchange.ReasonRequirementForeign, "requirement %s was filed by department %s, not by %s: a department pulls only under its own requirements", rq.ID, rq.Consumer, caller)
	case rq.Resource != f.Resource && f.Resource != "":
		return denied("RESOURCE_MISMATCH", "requirement %s is for resource %s, not %s", rq.ID, rq.Resource, f.Resource)
	case rq.State == exchange.ReqRevoked || rq.State == exchange.ReqRefused || rq.State == exchange.ReqWithdrawn:
		return denied(exchange.ReasonRequirementNotGrant, "requirement %s is %s at hub %s: nothing is pulled under it", rq.ID, rq.State, rq.HomeHub)
	case !slices.Contains(rq.MatterCodes, f.MatterCode):
		return denied(exchange.ReasonPurposeNotCovered, "matter %s is not a purpose requirement %s was filed for", f.MatterCode, rq.ID)
	case c == nil:
		return denied(exchange.ReasonCaseNotFound, "no case %s is open at this hub: open it first (gxctl case open)", f.CaseNumber)
	case c.Department != caller:
		return denied(exchange.ReasonCaseForeign, "case %s is handled by department %s, not by %s", c.Number, c.Department, caller)
	case c.Matter != f.MatterCode:
		return denied(exchange.ReasonCaseMatterMismatch, "case %s is for matter %s, not %s", c.Number, c.Matter, f.MatterCode)
	case c.State != string(exchange.CaseOpen):
		return denied(exchange.ReasonCaseClosed, "case %s is %s: nothing is pulled for a case that is no longer open", c.Number, c.State)
	case len(f.Subjects) == 0 || len(f.Subjects) > exchange.MaxPullSubjects:
		return exchange.Errorf(exchange.KindInvalid, "SUBJECTS_INVALID", "a pull names 1 to %d subjects", exchange.MaxPullSubjects)
	}
	for i, s := range f.Subjects {
		if !c.covers(s) {
			return denied(exchange.ReasonCaseSubjectMismatch, "subject %d (%s) is neither the applicant nor a declared party of case %s", i+1, s, c.Number)
		}
	}
	return nil
}

func (c *CaseAttestation) covers(s string) bool {
	s = exchange.NormalizeSubject(s)
	return exchange.NormalizeSubject(c.Applicant) == s || slices.ContainsFunc(c.Parties, func(p string) bool { return exchange.NormalizeSubject(p) == s })
}

// AsCase is the attested case as the home hub's pull use case reads it: handled by the
// remote department (RemoteDepartment), so that only that department's forwarded pulls
// match it.
func (c *CaseAttestation) AsCase(consumerHub string) *exchange.Case {
	out := &exchange.Case{Number: c.Number, Matter: c.Matter, Department: RemoteDepartment(consumerHub, c.Department), Region: c.Region,
		State: exchange.CaseState(c.State), Applicant: c.Applicant}
	for _, p := range c.Parties {
		out.Parties = append(out.Parties, exchange.Party{Subject: p})
	}
	return out
}

// Digester is the digest both hubs bind messages with (SM3, hex).
type Digester func([]byte) string

// ConsumerCheck verifies a consumer's own signed request with the consumer hub's root.
type ConsumerCheck func(rootPEM, issuingPEM string, c *ConsumerRequest) error

// ReceiptCheck is what VerifyReceipt established.
type ReceiptCheck struct {
	Receipt RelayReceipt
	Forward PullForward
	Answer  PullAnswer
}

// VerifyReceipt verifies a forwarded pull's whole chain offline, with the two hubs' cards
// (as the agreement pins them): the consumer hub's receipt signature; the forward request
// it signed, naming its forward record; the consumer's own signed request inside; the
// home hub's signed answer, bound to that very request; the pull result signed by the home
// hub's pull key, whose digest the receipt names; and that each side's receipt names the
// other's log indices. Any failure says which link broke.
func VerifyReceipt(receipt Signed, consumerHub, homeHub *HubCard, ver Verifier, digest Digester, consumer ConsumerCheck) (*ReceiptCheck, error) {
	out := &ReceiptCheck{}
	if err := Open(ver, consumerHub, receipt, &out.Receipt); err != nil {
		return nil, fmt.Errorf("relay receipt: %w", err)
	}
	r := &out.Receipt
	if r.ConsumerHub != consumerHub.ID || r.HomeHub != homeHub.ID {
		return nil, fmt.Errorf("relay receipt names hubs %s → %s, not %s → %s", r.ConsumerHub, r.HomeHub, consumerHub.ID, homeHub.ID)
	}
	var req Request
	if err := Open(ver, consumerHub, r.Request.Signed, &req); err != nil {
		return nil, fmt.Errorf("forward request: %w", err)
	}
	if req.Op != OpPull || req.From != consumerHub.ID || req.To != homeHub.ID || req.Agreement != r.Agreement {
		return nil, fmt.Errorf("forward request is %s %s → %s under %s, not a pull %s → %s under %s", req.Op, req.From, req.To, req.Agreement, consumerHub.ID, homeHub.ID, r.Agreement)
	}
	if err := json.Unmarshal(req.Body, &out.Forward); err != nil {
		return nil, fmt.Errorf("forward request body: %w", err)
	}
	f := &out.Forward
	if f.PullID != r.PullID || f.ForwardIndex != r.ForwardIndex || f.ForwardLog != r.LogID {
		return nil, fmt.Errorf("the forward request names pull %s at %s index %d, the receipt pull %s at %s index %d", f.PullID, f.ForwardLog, f.ForwardIndex, r.PullID, r.LogID, r.ForwardIndex)
	}
	if consumer != nil {
		if err := consumer(consumerHub.RootPEM, consumerHub.IssuingPEM, &f.Consumer); err != nil {
			return nil, fmt.Errorf("consumer's signed request: %w", err)
		}
	}
	if r.Consumer != f.Consumer.Department {
		return nil, fmt.Errorf("the receipt names consumer %s, the signed request %s", r.Consumer, f.Consumer.Department)
	}
	var resp Response
	if err := Open(ver, homeHub, r.Answer.Signed, &resp); err != nil {
		return nil, fmt.Errorf("home hub answer: %w", err)
	}
	if resp.RequestDigest != digest(r.Request.Payload) {
		return nil, fmt.Errorf("the home hub's answer is bound to another request (digest %s, the forward request's is %s)", resp.RequestDigest, digest(r.Request.Payload))
	}
	if resp.Error != nil {
		return nil, fmt.Errorf("the home hub refused the pull: %s: %s", resp.Error.Reason, resp.Error.Message)
	}
	if err := json.Unmarshal(resp.Body, &out.Answer); err != nil {
		return nil, fmt.Errorf("home hub answer body: %w", err)
	}
	a := &out.Answer
	if err := ver.Verify(homeHub.RootPEM, homeHub.IssuingPEM, homeHub.PullCertPEM, PurposePull, a.Payload, a.Signature); err != nil {
		return nil, fmt.Errorf("pull result: not signed by hub %s's pull key: %w", homeHub.ID, err)
	}
	if digest(a.Payload) != r.PayloadDigest {
		return nil, fmt.Errorf("the receipt names pull result digest %s, the signed result's is %s", r.PayloadDigest, digest(a.Payload))
	}
	if !slices.Equal(a.AuditRefs, r.HomeAuditRefs) || a.LogID != r.HomeLogID || len(a.AuditRefs) == 0 {
		return nil, fmt.Errorf("the receipt names home log %s indices %v, the home hub's answer %s %v", r.HomeLogID, r.HomeAuditRefs, a.LogID, a.AuditRefs)
	}
	if len(r.OutcomeIndices) == 0 {
		return nil, fmt.Errorf("the receipt names no outcome record of the consumer hub")
	}
	return out, nil
}
