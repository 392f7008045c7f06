package server

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/ledger"
	adminv1 "github.com/gxhub/gxhub/sdk/api/admin/v1"
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
	st, err := a.Store.CertStatuses().Get(ctx, serial)
	if err != nil {
		return err
	}
	switch st.State {
	case exchange.CertRevoked:
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
		return nil, exchange.Wrap(exchange.KindInvalid, "DEPARTMENT_CODE_INVALID", err, "department code %q is not a valid 统一社会信用代码", code)
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
	if err := a.Store.CertStatuses().Change(ctx, change, st); err != nil {
		return nil, err
	}
	st.State = change.Target()
	a.Auth.Forget(code)
	out := &adminv1.CertificateStatus{Code: d.Code, Serial: d.CertSerial, State: string(st.State), Since: timestamppb.New(now), ChangedBy: st.By}
	if reason != 0 {
		out.Reason = reason.String()
	}
	summary := fmt.Sprintf("certificate %s of %s %s", d.CertSerial, d.Code, st.State)
	if reason != 0 {
		summary += " (" + reason.String() + ")"
	}
	digest := sm.Sum([]byte(caller.Evidence))
	if idx, ok := appendAudit(ctx, a.Audit, a.Log, ledger.Record{Kind: KindCertificateStatus, Time: now, Department: caller.Department.Code,
		Resource: d.Code, Outcome: ledger.OutcomeOK, Reason: summary, RequestID: "cert-" + d.CertSerial + "-" + string(change), ResponseDigest: digest[:]}); ok {
		out.AuditIndex = idx
	}
	if a.Log != nil {
		a.Log.InfoContext(ctx, "certificate status changed", slog.String("code", d.Code), slog.String("serial", d.CertSerial),
			slog.String("state", string(st.State)), slog.String("by", st.By))
	}
	return out, nil
}
