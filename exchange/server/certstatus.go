package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/emmansun/gmsm/smx509"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/ledger"
	adminv1 "github.com/gxhub/gxhub/sdk/api/admin/v1"
	"github.com/gxhub/gxhub/sdk/reqsig"
)

// KindCertificateStatus is the audit kind of a certificate revocation, suspension or
// resumption.
const KindCertificateStatus ledger.Kind = "certificate.status"

// Refusal reasons of a certificate that no longer authenticates.
const (
	ReasonCertificateRevoked   = "CERTIFICATE_REVOKED"
	ReasonCertificateSuspended = "CERTIFICATE_SUSPENDED"
)

// CheckCertificate refuses a certificate (by hex serial) that the coordinator revoked or
// suspended. It reads the store on every call — no cache — so that a change made on any
// replica applies to the next request everywhere. who names the holder in the message.
func (a *Authenticator) CheckCertificate(ctx context.Context, serial, who string) error {
	v, err := a.Snapshots.get(ctx, "certstatus", serial, func() (any, error) { return a.Store.CertStatuses().Get(ctx, serial) })
	if err != nil {
		return err
	}
	st := v.(exchange.CertStatus)
	switch st.State {
	case exchange.CertRevoked:
		if st.Since.After(a.now()) {
			return nil // superseded by a re-key, still in its overlap
		}
		return exchange.Errorf(exchange.KindUnauthenticated, ReasonCertificateRevoked,
			"%s's certificate (serial %s) was revoked at %s (reason %s) by the coordinator: it authenticates nothing any more; the department needs a new key registered",
			who, serial, st.Since.UTC().Format(time.RFC3339), st.Reason)
	case exchange.CertSuspended:
		return exchange.Errorf(exchange.KindUnauthenticated, ReasonCertificateSuspended,
			"%s's certificate (serial %s) is suspended since %s by the coordinator: ask the coordinator to resume it",
			who, serial, st.Since.UTC().Format(time.RFC3339))
	}
	return nil
}

// RevokeCertificate implements AdminService.RevokeCertificate.
func (a *Admin) RevokeCertificate(ctx context.Context, req *adminv1.RevokeCertificateRequest) (*adminv1.RevokeCertificateResponse, error) {
	st, err := a.changeCertificate(ctx, exchange.ChangeRevoke, req.GetCode(), req.GetSerial(), req.GetReason())
	if err != nil {
		return nil, err
	}
	return &adminv1.RevokeCertificateResponse{Status: st}, nil
}

// SuspendCertificate implements AdminService.SuspendCertificate.
func (a *Admin) SuspendCertificate(ctx context.Context, req *adminv1.SuspendCertificateRequest) (*adminv1.SuspendCertificateResponse, error) {
	st, err := a.changeCertificate(ctx, exchange.ChangeSuspend, req.GetCode(), req.GetSerial(), "")
	if err != nil {
		return nil, err
	}
	return &adminv1.SuspendCertificateResponse{Status: st}, nil
}

// ResumeCertificate implements AdminService.ResumeCertificate.
func (a *Admin) ResumeCertificate(ctx context.Context, req *adminv1.ResumeCertificateRequest) (*adminv1.ResumeCertificateResponse, error) {
	st, err := a.changeCertificate(ctx, exchange.ChangeResume, req.GetCode(), req.GetSerial(), "")
	if err != nil {
		return nil, err
	}
	return &adminv1.ResumeCertificateResponse{Status: st}, nil
}

// changeCertificate applies a lifecycle change to the department's current certificate:
// coordinators only, signed (a browser session has no evidence), the domain's transition
// rule enforced by the store's conditional write, then the audit record.
func (a *Admin) changeCertificate(ctx context.Context, change exchange.CertChange, code, serial, reasonText string) (*adminv1.CertificateStatus, error) {
	caller, err := RequireRole(ctx, exchange.RoleCoordinator)
	if err != nil {
		return nil, err
	}
	var reason exchange.RevocationReason
	switch change {
	case exchange.ChangeRevoke:
		if reason, err = exchange.ParseRevocationReason(reasonText); err != nil {
			return nil, err
		}
	case exchange.ChangeSuspend:
		reason = exchange.ReasonCertificateHold
	}
	if caller.Evidence == "" {
		return nil, exchange.Errorf(exchange.KindPermissionDenied, ReasonSessionScope, "a certificate %s must be signed by the coordinator's key (it is kept as evidence): use gxctl or a signed request, not a browser session", change)
	}
	code = strings.TrimSpace(code)
	if err := exchange.ValidateUSCC(code); err != nil {
		return nil, exchange.Wrap(exchange.KindInvalid, "DEPARTMENT_CODE_INVALID", err, "department code %q is not a valid 统一社会信用代码: %v", code, err)
	}
	d, err := a.Store.Departments().Get(ctx, code)
	if err != nil {
		return nil, err
	}
	if serial = strings.ToLower(strings.TrimSpace(serial)); serial != "" && serial != strings.ToLower(d.CertSerial) {
		return nil, exchange.Errorf(exchange.KindFailedPrecondition, "CERTIFICATE_SERIAL_MISMATCH",
			"department %s's current certificate is %s, not %s: check the serial (gxctl department get %s)", code, d.CertSerial, serial, code)
	}
	now := a.now().UTC().Truncate(time.Microsecond)
	st := exchange.CertStatus{Serial: d.CertSerial, Subject: d.Code, Reason: reason, Since: now, By: caller.Department.Code, Evidence: caller.Evidence}
	st.State = change.Target()
	summary := fmt.Sprintf("certificate %s of %s %s", d.CertSerial, d.Code, st.State)
	if reason != 0 {
		summary += " (" + reason.String() + ")"
	}
	digest := sm.Sum([]byte(caller.Evidence))
	idx, err := auditedWrite(ctx, a.Audit, func(ctx context.Context) (ledger.Record, error) {
		if err := a.Store.CertStatuses().Change(ctx, change, st); err != nil {
			return ledger.Record{}, err
		}
		return ledger.Record{Kind: KindCertificateStatus, Time: now, Department: caller.Department.Code,
			Resource: d.Code, Outcome: ledger.OutcomeOK, Reason: summary, RequestID: "cert-" + d.CertSerial + "-" + string(change), ResponseDigest: digest[:]}, nil
	})
	if err != nil {
		return nil, err
	}
	a.Auth.Forget(code)
	out := &adminv1.CertificateStatus{Code: d.Code, Serial: d.CertSerial, State: string(st.State), Since: timestamppb.New(now), ChangedBy: st.By, AuditIndex: idx}
	if reason != 0 {
		out.Reason = reason.String()
	}
	if a.Log != nil {
		a.Log.InfoContext(ctx, "certificate status changed", slog.String("code", d.Code), slog.String("serial", d.CertSerial),
			slog.String("state", string(st.State)), slog.String("by", st.By))
	}
	return out, nil
}

func isBadSignature(err error) bool {
	var e *reqsig.Error
	return errors.As(err, &e) && e.Reason == reqsig.ReasonBadSignature
}

// verifyPrevious verifies req with the department's superseded certificates still in their
// overlap; it returns the one that verifies (nil when none does).
func (a *Authenticator) verifyPrevious(ctx context.Context, code string, req *reqsig.Request, expect reqsig.Expect, now time.Time) (*smx509.Certificate, *reqsig.Claims, error) {
	ders, err := a.Store.CertStatuses().Overlapping(ctx, code, now)
	if err != nil {
		return nil, nil, err
	}
	for _, der := range ders {
		cert, err := smx509.ParseCertificate(der)
		if err != nil {
			continue
		}
		if claims, err := req.Verify(cert.PublicKey, expect); err == nil {
			return cert, claims, nil
		}
	}
	return nil, nil, nil
}

// KindDepartmentRekey is the audit kind of a re-key or renewal.
const KindDepartmentRekey ledger.Kind = "department.rekey"

// Re-key overlap bounds.
const (
	defaultRekeyOverlap = 24 * time.Hour
	maxRekeyOverlap     = 7 * 24 * time.Hour
)

// RekeyDepartment implements AdminService.RekeyDepartment: the department (with its current,
// active certificate) or a coordinator has the CA certify a new key, or the same key again
// (renewal). The previous certificate is revoked as superseded — after the overlap for a new
// key of a department whose certificate was active, at once otherwise — and the change is
// audited with the signed request.
func (a *Admin) RekeyDepartment(ctx context.Context, req *adminv1.RekeyDepartmentRequest) (*adminv1.RekeyDepartmentResponse, error) {
	caller, err := RequireCaller(ctx)
	if err != nil {
		return nil, err
	}
	code := strings.TrimSpace(req.GetCode())
	if code == "" {
		code = caller.Department.Code
	}
	if code != caller.Department.Code && !caller.Department.HasRole(exchange.RoleCoordinator) {
		return nil, exchange.Errorf(exchange.KindPermissionDenied, "ROLE_REQUIRED", "department %s may re-key only itself; re-keying %s needs the coordinator role", caller.Department.Code, code)
	}
	if caller.Evidence == "" {
		return nil, exchange.Errorf(exchange.KindPermissionDenied, ReasonSessionScope, "a re-key must be signed (it is kept as evidence): use gxctl or a signed request, not a browser session")
	}
	pub, err := sm.ParsePublicKeyPEM([]byte(req.GetPublicKeyPem()))
	if err != nil {
		return nil, exchange.Wrap(exchange.KindInvalid, "PUBLIC_KEY_INVALID", err, "public_key_pem must be the department's new SM2 public key in PEM (gxctl department rekey makes it): %v", err)
	}
	overlap := time.Duration(req.GetOverlapHours()) * time.Hour
	if overlap == 0 {
		overlap = defaultRekeyOverlap
	}
	if overlap > maxRekeyOverlap {
		return nil, exchange.Errorf(exchange.KindInvalid, "OVERLAP_INVALID", "overlap_hours %d is more than %d: the old key must stop signing within a week", req.GetOverlapHours(), int(maxRekeyOverlap.Hours()))
	}
	d, err := a.Store.Departments().Get(ctx, code)
	if err != nil {
		return nil, err
	}
	old, err := smx509.ParseCertificate(d.Certificate)
	if err != nil {
		return nil, fmt.Errorf("stored certificate of department %s does not parse: %w", code, err)
	}
	cur, err := a.Store.CertStatuses().Get(ctx, d.CertSerial)
	if err != nil {
		return nil, err
	}
	renewal := pub.Equal(old.PublicKey)
	if renewal || cur.State != exchange.CertActive {
		overlap = 0 // the same key needs none; a revoked or suspended key gets none
	}
	now := a.now().UTC().Truncate(time.Microsecond)
	der, serial, chain, err := a.Issuer.IssueDepartment(pub, d, now)
	if err != nil {
		return nil, err
	}
	until := now.Add(overlap)
	prevSerial, prevCert := d.CertSerial, d.Certificate
	what := "re-key"
	if renewal {
		what = "renewal"
	}
	digest := sm.Sum([]byte(caller.Evidence))
	// The new certificate, the old one's revocation and the audit record commit together.
	idx, err := auditedWrite(ctx, a.Audit, func(ctx context.Context) (ledger.Record, error) {
		if err := a.Store.Departments().UpdateCertificate(ctx, code, der, serial); err != nil {
			return ledger.Record{}, err
		}
		if err := a.Store.CertStatuses().Supersede(ctx, exchange.CertStatus{Serial: prevSerial, Subject: code, Since: until, By: caller.Department.Code, Evidence: caller.Evidence}, prevCert); err != nil {
			return ledger.Record{}, err
		}
		return ledger.Record{Kind: KindDepartmentRekey, Time: now, Department: caller.Department.Code, Resource: code,
			Outcome: ledger.OutcomeOK, Reason: fmt.Sprintf("%s: certificate %s supersedes %s, which is revoked (superseded) from %s", what, serial, prevSerial, until.Format(time.RFC3339)),
			RequestID: "rekey-" + serial, ResponseDigest: digest[:]}, nil
	})
	if err != nil {
		return nil, err
	}
	a.Auth.Forget(code)
	d.Certificate, d.CertSerial = der, serial
	resp := &adminv1.RekeyDepartmentResponse{Department: DepartmentToProto(d), CertificatePem: string(pemCert(der)), CaChainPem: chain,
		PreviousSerial: prevSerial, PreviousRevokedAt: timestamppb.New(until), AuditIndex: idx}
	if a.Log != nil {
		a.Log.InfoContext(ctx, "department certificate replaced", slog.String("code", code), slog.String("what", what), slog.String("serial", serial),
			slog.String("previous", prevSerial), slog.Time("previous_until", until), slog.String("by", caller.Department.Code))
	}
	return resp, nil
}
