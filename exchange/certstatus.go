package exchange

import (
	"fmt"
	"strings"
	"time"
)

// Certificate lifecycle (REQUIREMENTS E5): the coordinator revokes or suspends the signing
// certificate of a department (any certificate the hub's CA issued, by serial), and resumes
// a suspended one. The rules, which no policy or configuration can widen:
//
//   - revocation is final: a revoked certificate is never suspended, resumed or revoked again;
//   - only a suspended certificate is resumed, only an active one is suspended;
//   - a revoked or suspended certificate authenticates nothing from the moment the change is
//     stored (request signatures, sign-in tokens, browser sessions), on every replica;
//   - each change carries the coordinator's signed request as its evidence and is an audit
//     record; the hub's CRL lists revoked (with their RFC 5280 reason) and suspended
//     (certificateHold) certificates.

// CertState is the state of a certificate the hub issued.
type CertState string

const (
	CertActive    CertState = "active"
	CertSuspended CertState = "suspended"
	CertRevoked   CertState = "revoked"
)

// RevocationReason is an RFC 5280 CRLReason code.
type RevocationReason int

// The reasons a coordinator may give (RFC 5280 §5.3.1 codes).
const (
	ReasonKeyCompromise        RevocationReason = 1
	ReasonAffiliationChanged   RevocationReason = 3
	ReasonSuperseded           RevocationReason = 4
	ReasonCessationOfOperation RevocationReason = 5
	ReasonCertificateHold      RevocationReason = 6 // suspension
	ReasonPrivilegeWithdrawn   RevocationReason = 9
)

var reasonNames = map[RevocationReason]string{
	ReasonKeyCompromise:        "key_compromise",
	ReasonAffiliationChanged:   "affiliation_changed",
	ReasonSuperseded:           "superseded",
	ReasonCessationOfOperation: "cessation_of_operation",
	ReasonCertificateHold:      "certificate_hold",
	ReasonPrivilegeWithdrawn:   "privilege_withdrawn",
}

func (r RevocationReason) String() string {
	if n, ok := reasonNames[r]; ok {
		return n
	}
	return fmt.Sprintf("reason(%d)", int(r))
}

// ParseRevocationReason reads a revocation reason name (key_compromise, superseded,
// cessation_of_operation, affiliation_changed, privilege_withdrawn).
func ParseRevocationReason(s string) (RevocationReason, error) {
	for r, n := range reasonNames {
		if r != ReasonCertificateHold && strings.EqualFold(strings.ReplaceAll(s, "-", "_"), n) {
			return r, nil
		}
	}
	return 0, Errorf(KindInvalid, "REVOCATION_REASON_INVALID",
		"revocation reason %q: use key_compromise, superseded, cessation_of_operation, affiliation_changed or privilege_withdrawn (suspend with `department suspend`)", s)
}

// CertStatus is the lifecycle state of one certificate, as last changed.
type CertStatus struct {
	Serial  string // hex serial, as Department.CertSerial
	Subject string // the department's code
	State   CertState
	Reason  RevocationReason // for revoked and suspended
	// Since is when the state took effect; By the coordinator department that changed it,
	// Evidence its signed request (the Authorization value).
	Since    time.Time
	By       string
	Evidence string
}

// CertChange is a requested change of a certificate's state.
type CertChange string

const (
	ChangeRevoke  CertChange = "revoke"
	ChangeSuspend CertChange = "suspend"
	ChangeResume  CertChange = "resume"
)

// Target is the state a change leads to.
func (c CertChange) Target() CertState {
	switch c {
	case ChangeRevoke:
		return CertRevoked
	case ChangeSuspend:
		return CertSuspended
	}
	return CertActive
}

// Allowed tells whether change may be applied to a certificate in state from (CertActive
// for a certificate with no recorded status). The store applies the same rule in the
// conditional write, so that concurrent changes cannot get around it.
func (c CertChange) Allowed(from CertState, serial string) error {
	switch {
	case from == CertRevoked:
		return Errorf(KindFailedPrecondition, "CERTIFICATE_REVOKED", "certificate %s is revoked, which is final: register a new key for the department instead", serial)
	case c == ChangeSuspend && from != CertActive:
		return Errorf(KindFailedPrecondition, "CERTIFICATE_SUSPENDED", "certificate %s is already suspended", serial)
	case c == ChangeResume && from != CertSuspended:
		return Errorf(KindFailedPrecondition, "CERTIFICATE_NOT_SUSPENDED", "certificate %s is %s, not suspended: only a suspended certificate is resumed", serial, from)
	}
	return nil
}
