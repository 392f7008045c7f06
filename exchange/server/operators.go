package server

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/emmansun/gmsm/smx509"

	"github.com/gxhub/gxhub/certs/pki"
	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/store"
	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/policy"
	adminv1 "github.com/gxhub/gxhub/sdk/api/admin/v1"
)

// Audit kinds of operator enrolment and certificate status changes.
const (
	KindOperatorEnrol  ledger.Kind = "operator.enrol"
	KindOperatorStatus ledger.Kind = "operator.status" // suspended, resumed or revoked
)

// OperatorIssuer issues operator certificates (the hub's SM2 CA).
type OperatorIssuer interface {
	// IssueOperator certifies pub for the operator named name inside department d and
	// returns the certificate and the PEM chain of issuing CAs up to the root.
	IssueOperator(pub *ecdsa.PublicKey, d *exchange.Department, name string, now time.Time) (*smx509.Certificate, string, error)
}

// RoleReader answers which roles the policy gives an operator inside a department (D1).
type RoleReader interface {
	Roles(ctx context.Context, operator, department string) ([]string, error)
}

// Operators implements gxhub.admin.v1.OperatorService: a department's admin enrols,
// suspends, resumes and revokes its operators. The operator's role is a policy "g" rule
// (operator serial, role, department), so the casbin policy that decides pulls (D1) and
// the RPC roles (OperatorMethods) read the same rule.
type Operators struct {
	adminv1.UnimplementedOperatorServiceServer
	Store   store.Store
	Issuer  OperatorIssuer
	Decider policy.Decider // invalidated after a role is given
	Audit   *store.AuditWriter
	Log     *slog.Logger
	Now     func() time.Time
}

func (s *Operators) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// EnrolOperator certifies an operator's key and gives it its role.
func (s *Operators) EnrolOperator(ctx context.Context, req *adminv1.EnrolOperatorRequest) (*adminv1.EnrolOperatorResponse, error) {
	c, err := RequireCaller(ctx)
	if err != nil {
		return nil, err
	}
	name := strings.TrimSpace(req.GetName())
	if err := exchange.ValidateOperatorName(name); err != nil {
		return nil, err
	}
	role := strings.ToLower(strings.TrimSpace(req.GetRole()))
	if !slices.Contains(policy.Roles, role) {
		return nil, exchange.Errorf(exchange.KindInvalid, "OPERATOR_ROLE_INVALID", "role %q is not one of %s", req.GetRole(), strings.Join(policy.Roles, ", "))
	}
	if strings.TrimSpace(req.GetCsrPem()) == "" {
		return nil, exchange.Errorf(exchange.KindInvalid, "CSR_MISSING", "csr_pem is required: a PKCS#10 request signed by the operator's own SM2 key (gxctl operator add makes the key and the request on the operator's machine)")
	}
	pub, _, err := pki.ParseCSR([]byte(req.GetCsrPem()))
	if err != nil {
		return nil, exchange.Wrap(exchange.KindInvalid, "CSR_INVALID", err, "csr_pem is not a valid SM2 certificate request: %v", err)
	}
	if k, err := smx509.ParseCertificate(c.Department.Certificate); err == nil {
		if kp, ok := k.PublicKey.(*ecdsa.PublicKey); ok && kp.Equal(pub) {
			return nil, exchange.Errorf(exchange.KindInvalid, "OPERATOR_KEY_IS_DEPARTMENT_KEY", "the request is for the department's own key: an operator needs a key of its own")
		}
	}
	now := s.now()
	cert, chain, err := s.Issuer.IssueOperator(pub, c.Department, name, now)
	if err != nil {
		return nil, err
	}
	o := &exchange.Operator{Serial: cert.SerialNumber.Text(16), Department: c.Department.Code, Name: name, Role: role, Status: exchange.OperatorActive,
		Certificate: cert.Raw, NotBefore: cert.NotBefore.UTC(), NotAfter: cert.NotAfter.UTC(), EnrolledBy: actorID(c),
		EnrolledAt: now.UTC().Truncate(time.Microsecond), StatusAt: now.UTC().Truncate(time.Microsecond)}
	// The operator, its role (a policy change like any other: versioned, audited) and both
	// records commit together.
	digest := sm.Sum(cert.Raw)
	idx, err := auditedWriteAll(ctx, s.Audit, func(ctx context.Context) ([]ledger.Record, error) {
		if err := s.Store.Operators().Create(ctx, o); err != nil {
			return nil, err
		}
		// The role: the operator exists only with it.
		rule := policy.Rule{PType: "g", Fields: []string{o.Serial, o.Role, o.Department}}
		var ch policy.Change
		for attempt := 0; ; attempt++ {
			_, v, err := s.Store.Policies().Rules(ctx)
			if err != nil {
				return nil, err
			}
			ch, err = s.Store.Policies().Apply(ctx, policy.Change{Add: []policy.Rule{rule}, By: c.Department.Code, Operator: c.OperatorID(),
				Comment: "operator " + o.Name + " enrolled as " + o.Role, At: now.UTC().Truncate(time.Microsecond), Evidence: c.Evidence, BodyDigest: c.BodyDigest}, v)
			if err == nil {
				break
			}
			if !errors.Is(err, store.ErrPolicyConflict) || attempt >= 5 {
				return nil, err
			}
		}
		d := sm.Sum([]byte(c.Evidence))
		return []ledger.Record{
			{Kind: ledger.KindPolicyChange, Time: ch.At, Department: c.Department.Code, Resource: "policy", Outcome: ledger.OutcomeOK, Reason: ch.Summary(), ResponseDigest: d[:]},
			{Kind: KindOperatorEnrol, Time: now, Department: c.Department.Code, Resource: o.Serial, Outcome: ledger.OutcomeOK,
				Reason: "enrolled " + name + " as " + role + " (" + ch.Summary() + ")", ResponseDigest: digest[:]},
		}, nil
	})
	if err != nil {
		return nil, err
	}
	if s.Decider != nil {
		s.Decider.Invalidate()
	}
	if s.Log != nil {
		s.Log.InfoContext(ctx, "operator enrolled", slog.String("department", o.Department), slog.String("serial", o.Serial), slog.String("role", role))
	}
	return &adminv1.EnrolOperatorResponse{Operator: OperatorToProto(o), CertificatePem: string(pemCert(cert.Raw)), CaChainPem: chain, AuditReference: idx[1]}, nil
}

// ListOperators lists the caller's department's operators.
func (s *Operators) ListOperators(ctx context.Context, _ *adminv1.ListOperatorsRequest) (*adminv1.ListOperatorsResponse, error) {
	c, err := RequireCaller(ctx)
	if err != nil {
		return nil, err
	}
	ops, err := s.Store.Operators().List(ctx, c.Department.Code)
	if err != nil {
		return nil, err
	}
	out := &adminv1.ListOperatorsResponse{}
	for _, o := range ops {
		out.Operators = append(out.Operators, OperatorToProto(o))
	}
	return out, nil
}

var statusFromProto = map[adminv1.OperatorStatus]exchange.OperatorStatus{
	adminv1.OperatorStatus_OPERATOR_STATUS_ACTIVE:    exchange.OperatorActive,
	adminv1.OperatorStatus_OPERATOR_STATUS_SUSPENDED: exchange.OperatorSuspended,
	adminv1.OperatorStatus_OPERATOR_STATUS_REVOKED:   exchange.OperatorRevoked,
}

// ChangeOperatorStatus suspends, resumes or revokes one of the caller's operators.
func (s *Operators) ChangeOperatorStatus(ctx context.Context, req *adminv1.ChangeOperatorStatusRequest) (*adminv1.Operator, error) {
	c, err := RequireCaller(ctx)
	if err != nil {
		return nil, err
	}
	to, ok := statusFromProto[req.GetStatus()]
	if !ok {
		return nil, exchange.Errorf(exchange.KindInvalid, "OPERATOR_STATUS_INVALID", "status must be OPERATOR_STATUS_SUSPENDED, OPERATOR_STATUS_ACTIVE or OPERATOR_STATUS_REVOKED")
	}
	o, err := s.Store.Operators().Get(ctx, strings.ToLower(strings.TrimSpace(req.GetSerial())))
	if err != nil {
		return nil, err
	}
	if o.Department != c.Department.Code {
		// The same answer as for an unknown serial: another department's operators are not
		// this caller's business.
		return nil, exchange.Errorf(exchange.KindNotFound, "OPERATOR_NOT_FOUND", "no operator with certificate serial %q is enrolled in department %s", req.GetSerial(), c.Department.Code)
	}
	if c.Operator != nil && c.Operator.Serial == o.Serial && to != exchange.OperatorRevoked {
		return nil, exchange.Errorf(exchange.KindFailedPrecondition, "OPERATOR_SELF", "an operator cannot suspend or resume itself; it may only revoke its own certificate")
	}
	from := o.Status
	now := s.now()
	if err := o.ChangeStatus(to, strings.TrimSpace(req.GetReason()), now); err != nil {
		return nil, err
	}
	if _, err := auditedWrite(ctx, s.Audit, func(ctx context.Context) (ledger.Record, error) {
		if err := s.Store.Operators().SetStatus(ctx, o, from); err != nil {
			return ledger.Record{}, err
		}
		return ledger.Record{Kind: KindOperatorStatus, Time: now, Department: c.Department.Code,
			Resource: o.Serial, Outcome: ledger.OutcomeOK, Reason: string(from) + " → " + string(to) + ": " + o.StatusReason}, nil
	}); err != nil {
		return nil, err
	}
	if s.Log != nil {
		s.Log.InfoContext(ctx, "operator status changed", slog.String("department", o.Department), slog.String("serial", o.Serial), slog.String("status", string(to)))
	}
	return OperatorToProto(o), nil
}

// actorID names who acted: the department code, or code/serial for an operator.
func actorID(c *Caller) string {
	if c.Operator != nil {
		return exchange.OperatorID(c.Department.Code, c.Operator.Serial)
	}
	return c.Department.Code
}

var statusToProto = map[exchange.OperatorStatus]adminv1.OperatorStatus{
	exchange.OperatorActive:    adminv1.OperatorStatus_OPERATOR_STATUS_ACTIVE,
	exchange.OperatorSuspended: adminv1.OperatorStatus_OPERATOR_STATUS_SUSPENDED,
	exchange.OperatorRevoked:   adminv1.OperatorStatus_OPERATOR_STATUS_REVOKED,
}

// OperatorToProto converts an operator for the wire.
func OperatorToProto(o *exchange.Operator) *adminv1.Operator {
	return &adminv1.Operator{Serial: o.Serial, Department: o.Department, Name: o.Name, Role: o.Role, Status: statusToProto[o.Status],
		NotBefore: ts(o.NotBefore), NotAfter: ts(o.NotAfter), EnrolledBy: o.EnrolledBy, EnrolledAt: ts(o.EnrolledAt), StatusReason: o.StatusReason}
}
