package exchange

import (
	"strings"
	"time"
	"unicode/utf8"
)

// OperatorStatus is the state of an operator's certificate (REQUIREMENTS E6).
type OperatorStatus string

// Operator statuses. Revocation is final; suspension can be lifted.
const (
	OperatorActive    OperatorStatus = "active"
	OperatorSuspended OperatorStatus = "suspended"
	OperatorRevoked   OperatorStatus = "revoked"
)

// Operator is a person inside a department who signs requests with an own SM2 key,
// certified by the hub's CA for that department (D1, E6). Serial (the certificate's serial
// in hex) identifies the operator in audit records and in the policy's "g" rules, which
// give the operator its roles in the department.
type Operator struct {
	Serial       string
	Department   string
	Name         string
	Role         string // the role given at enrolment (the policy's g rules are authoritative)
	Status       OperatorStatus
	Certificate  []byte // DER
	NotBefore    time.Time
	NotAfter     time.Time
	EnrolledBy   string // department code, or code/serial of the admin operator
	EnrolledAt   time.Time
	StatusReason string
	StatusAt     time.Time
}

// MaxOperatorName bounds an operator's name.
const MaxOperatorName = 64

// ValidateOperatorName checks an operator's name: 1 to 64 characters, no control
// characters, no "/" (it separates department and operator in a request's key id).
func ValidateOperatorName(name string) error {
	if strings.TrimSpace(name) == "" || utf8.RuneCountInString(name) > MaxOperatorName || !utf8.ValidString(name) ||
		strings.ContainsAny(name, "/\x00\r\n\t") {
		return Errorf(KindInvalid, "OPERATOR_NAME_INVALID", "operator name %q must be 1 to %d characters without '/' or control characters", name, MaxOperatorName)
	}
	return nil
}

// OperatorID is how an operator is named in a request's key id and in audit records:
// the department code and the certificate serial, "code/serial".
func OperatorID(department, serial string) string { return department + "/" + serial }

// ChangeStatus moves o to status `to` with a reason, at `at`. An active operator can be
// suspended or revoked, a suspended one resumed (active) or revoked; a revoked one stays
// revoked: revocation is final, a new certificate is a new enrolment.
func (o *Operator) ChangeStatus(to OperatorStatus, reason string, at time.Time) error {
	if strings.TrimSpace(reason) == "" || len(reason) > 512 || !utf8.ValidString(reason) {
		return Errorf(KindInvalid, "REASON_REQUIRED", "a status change of operator %s needs a reason of 1 to 512 bytes", o.Serial)
	}
	ok := false
	switch o.Status {
	case OperatorActive:
		ok = to == OperatorSuspended || to == OperatorRevoked
	case OperatorSuspended:
		ok = to == OperatorActive || to == OperatorRevoked
	}
	if !ok {
		return Errorf(KindFailedPrecondition, "OPERATOR_STATUS_CHANGE_INVALID",
			"operator %s is %s and cannot become %s: an active operator may be suspended or revoked, a suspended one resumed or revoked, and revocation is final", o.Serial, o.Status, to)
	}
	o.Status, o.StatusReason, o.StatusAt = to, reason, at.UTC().Truncate(time.Microsecond)
	return nil
}
