package hub_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/gxhub/gxhub/certs/pki"
	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/exchange/server"
	"github.com/gxhub/gxhub/exchange/store/storetest"
	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/sdk"
	adminv1 "github.com/gxhub/gxhub/sdk/api/admin/v1"
	auditv1 "github.com/gxhub/gxhub/sdk/api/audit/v1"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
	"github.com/gxhub/gxhub/sdk/identity"
)

// enrolOperator does what `gxctl operator add` does: a fresh SM2 key here, a CSR signed
// with it, the hub's certificate; the identity is written to a directory and loaded back.
func enrolOperator(t testing.TB, admin *sdk.Client, name, role string) *identity.Identity {
	t.Helper()
	key, err := sm.GenerateKey()
	require.NoError(t, err)
	me := admin.Identity()
	csr, err := pki.CreateCSR(key, pki.DepartmentSubject{Code: me.Code, Name: name})
	require.NoError(t, err)
	resp, err := admin.Operators.EnrolOperator(context.Background(), &adminv1.EnrolOperatorRequest{Name: name, Role: role, CsrPem: string(csr)})
	require.NoError(t, err)
	op := resp.GetOperator()
	require.Equal(t, me.Code, op.GetDepartment())
	require.Equal(t, adminv1.OperatorStatus_OPERATOR_STATUS_ACTIVE, op.GetStatus())
	dir := t.TempDir()
	id := &identity.Identity{Code: me.Code, Name: me.Name, HubURL: me.HubURL, Operator: op.GetSerial(), OperatorName: name, Key: key,
		CertPEM: []byte(resp.GetCertificatePem()), CAChainPEM: []byte(resp.GetCaChainPem()), TLSCAPEM: me.TLSCAPEM}
	require.NoError(t, id.Save(dir, nil))
	back, err := identity.Load(dir, nil)
	require.NoError(t, err)
	require.Equal(t, op.GetSerial(), back.Operator)
	return back
}

// TestOperatorsSignPullsKeptAsEvidence: an operator enrolled with its own key pulls; the
// audit record names the authenticated operator and commits to the signed request; the
// receipt verifies offline with the operator's signature, and fails when the envelope is
// tampered with or the certificate swapped. Roles are those of the policy, suspension and
// revocation take effect at the next request, and every change is audited.
func TestOperatorsSignPullsKeptAsEvidence(t *testing.T) {
	ctx := context.Background()
	dh := startDataHub(t, cst("2026-03-02 09:00"))
	a := storetest.IDNumber(21)
	dh.publish(t, "batch-1", a)
	dh.clock.Set(cst("2026-03-02 10:00"))
	dh.openCase(t, "YB-OP-1", matter1, a)
	yubei := dh.c(dh.yubei)

	clerk := enrolOperator(t, yubei, "张三", "operator")
	checker := enrolOperator(t, yubei, "李四", "auditor")
	dial := func(id *identity.Identity) *sdk.Client {
		c, err := sdk.Dial(ctx, id, sdk.WithClock(dh.clock.Now))
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		return c
	}
	asClerk, asChecker := dial(clerk), dial(checker)

	me, err := asClerk.Admin.WhoAmI(ctx, &adminv1.WhoAmIRequest{})
	require.NoError(t, err)
	require.Equal(t, dh.yubei.Code, me.GetDepartment().GetCode())

	pull := &exchangev1.PullRequest{RequirementId: dh.granted, MatterCode: matter1, CaseNumber: "YB-OP-1", Subjects: []string{a}, Operator: "somebody-else"}
	resp, err := asClerk.Pulls.Pull(ctx, pull)
	require.NoError(t, err)
	res, err := sdk.VerifyPull(resp, &dh.h.PullKey.PublicKey)
	require.NoError(t, err)
	require.Equal(t, clerk.Operator, res.GetOperator(), "the signed result names the authenticated operator, not the claimed one")
	require.Len(t, resp.GetAuditReferences(), 1)
	idx := resp.GetAuditReferences()[0]

	t.Run("ok/the audit record names the authenticated operator and commits to the request", func(t *testing.T) {
		e, err := dh.h.Audit.Log.GetRecord(ctx, idx)
		require.NoError(t, err)
		require.Equal(t, ledger.KindPull, e.Record.Kind)
		require.Equal(t, dh.yubei.Code, e.Record.Department)
		require.Equal(t, clerk.Operator, e.Record.Operator, "the operator is the certificate serial, whatever the request claims")
		require.Len(t, e.Record.RequestDigest, 32)
	})

	receipt, err := asClerk.AuditReceipt(ctx, idx)
	require.NoError(t, err)
	require.NotNil(t, receipt.Request)
	blob, err := json.Marshal(receipt)
	require.NoError(t, err)
	fresh := func() *sdk.AuditReceipt {
		var r sdk.AuditReceipt
		require.NoError(t, json.Unmarshal(blob, &r))
		return &r
	}
	rootPEM := dh.h.CA.RootPEM()

	t.Run("ok/the receipt verifies offline with the operator's signature", func(t *testing.T) {
		r := fresh()
		rec, err := sdk.VerifyAuditReceipt(r, "")
		require.NoError(t, err)
		who, err := sdk.VerifyRequestEvidence(rec, r.Request, rootPEM)
		require.NoError(t, err)
		require.Equal(t, dh.yubei.Code, who.Department)
		require.Equal(t, clerk.Operator, who.Operator)
		require.Equal(t, "张三", who.OperatorName)
		require.Equal(t, "/gxhub.exchange.v1.PullService/Pull", who.Path)
		require.True(t, who.TrustedRoot)
		require.Equal(t, "YB-OP-1", rec.Case)
		require.Equal(t, dh.h.Audit.SubjectKey(ledger.NormalizeSubject(a)), rec.Subject)
	})

	t.Run("fail/a tampered envelope", func(t *testing.T) {
		r := fresh()
		parts := strings.Split(r.Request.Envelope, ".")
		sig := []byte(parts[2])
		sig[5] ^= 1
		r.Request.Envelope = parts[0] + "." + parts[1] + "." + string(sig)
		_, err := sdk.VerifyAuditReceipt(r, "")
		require.ErrorContains(t, err, "not the one the record commits to")
	})
	t.Run("fail/another envelope of the same operator", func(t *testing.T) {
		other, err := asClerk.Pulls.Pull(ctx, pull)
		require.NoError(t, err)
		r2, err := asClerk.AuditReceipt(ctx, other.GetAuditReferences()[0])
		require.NoError(t, err)
		r := fresh()
		r.Request = r2.Request
		_, err = sdk.VerifyAuditReceipt(r, "")
		require.ErrorContains(t, err, "not the one the record commits to")
	})
	t.Run("fail/a swapped certificate", func(t *testing.T) {
		for name, certPEM := range map[string]string{"department's": string(dh.yubei.CertPEM), "another operator's": string(checker.CertPEM)} {
			r := fresh()
			r.Request.SignerCertPEM = certPEM
			_, err := sdk.VerifyAuditReceipt(r, "")
			require.Error(t, err, name)
		}
	})
	t.Run("fail/a certificate from another root", func(t *testing.T) {
		other := startDataHub(t, cst("2026-03-02 09:00"))
		r := fresh()
		rec, err := sdk.VerifyAuditReceipt(r, "")
		require.NoError(t, err)
		_, err = sdk.VerifyRequestEvidence(rec, r.Request, other.h.CA.RootPEM())
		require.ErrorContains(t, err, "does not chain")
	})
	t.Run("fail/a receipt without the request the record commits to", func(t *testing.T) {
		r := fresh()
		r.Request = nil
		_, err := sdk.VerifyAuditReceipt(r, "")
		require.ErrorContains(t, err, "does not carry it")
	})

	t.Run("fail/roles come from the policy, not from the request", func(t *testing.T) {
		_, err := asChecker.Pulls.Pull(ctx, pull)
		require.Equal(t, codes.PermissionDenied, status.Code(err), "%v", err)
		require.Equal(t, server.ReasonOperatorRole, sdk.Reason(err))
		require.Contains(t, status.Convert(err).Message(), checker.Operator)
		// The same refusal through REST.
		rp := newRESTProbe(t, dh)
		body := []byte(`{"requirement_id":"` + dh.granted + `","matter_code":"` + matter1 + `","case_number":"YB-OP-1","subjects":["` + a + `"]}`)
		code, out := rp.send(t, "POST", "/v1/pulls", rp.sign(t, checker, dh.clock.Now(), "POST", "/v1/pulls", body), body)
		require.Equal(t, http.StatusForbidden, code, "%v", out)
		require.Equal(t, server.ReasonOperatorRole, out["reason"])
		// An operator (not an admin) cannot enrol operators nor change the policy.
		_, err = asClerk.Operators.EnrolOperator(ctx, &adminv1.EnrolOperatorRequest{Name: "王五", Role: "admin", CsrPem: "x"})
		require.Equal(t, server.ReasonOperatorRole, sdk.Reason(err))
		_, err = asClerk.Policy.ChangePolicy(ctx, &exchangev1.ChangePolicyRequest{Add: []*exchangev1.PolicyRule{{Ptype: "g", Fields: []string{clerk.Operator, "admin", dh.yubei.Code}}}})
		require.Equal(t, server.ReasonOperatorRole, sdk.Reason(err))
		// The auditor reads the evidence of its department's record.
		ev, err := asChecker.Evidence.GetRequestEvidence(ctx, &auditv1.GetRequestEvidenceRequest{Index: idx})
		require.NoError(t, err)
		require.Equal(t, receipt.Request.Envelope, ev.GetEnvelope())
	})

	t.Run("ok/an admin operator enrols; another department cannot touch the operators", func(t *testing.T) {
		boss := enrolOperator(t, yubei, "赵六", "admin")
		asBoss := dial(boss)
		third := enrolOperator(t, asBoss, "钱七", "approver")
		list, err := yubei.Operators.ListOperators(ctx, &adminv1.ListOperatorsRequest{})
		require.NoError(t, err)
		var enrolledBy string
		for _, o := range list.GetOperators() {
			if o.GetSerial() == third.Operator {
				enrolledBy = o.GetEnrolledBy()
			}
		}
		require.Equal(t, dh.yubei.Code+"/"+boss.Operator, enrolledBy)
		_, err = dh.c(dh.police).Operators.ChangeOperatorStatus(ctx, &adminv1.ChangeOperatorStatusRequest{Serial: clerk.Operator,
			Status: adminv1.OperatorStatus_OPERATOR_STATUS_REVOKED, Reason: "not ours"})
		require.Equal(t, codes.NotFound, status.Code(err), "%v", err)
	})

	t.Run("ok/suspension and revocation take effect at the next request, audited", func(t *testing.T) {
		before := dh.auditSize(t)
		change := func(to adminv1.OperatorStatus, reason string) error {
			_, err := yubei.Operators.ChangeOperatorStatus(ctx, &adminv1.ChangeOperatorStatusRequest{Serial: clerk.Operator, Status: to, Reason: reason})
			return err
		}
		require.NoError(t, change(adminv1.OperatorStatus_OPERATOR_STATUS_SUSPENDED, "on leave"))
		_, err := asClerk.Pulls.Pull(ctx, pull)
		require.Equal(t, server.ReasonOperatorSuspended, sdk.Reason(err), "%v", err)
		require.Equal(t, codes.Unauthenticated, status.Code(err))
		require.NoError(t, change(adminv1.OperatorStatus_OPERATOR_STATUS_ACTIVE, "back"))
		_, err = asClerk.Pulls.Pull(ctx, pull)
		require.NoError(t, err)
		require.NoError(t, change(adminv1.OperatorStatus_OPERATOR_STATUS_REVOKED, "key lost"))
		_, err = asClerk.Admin.WhoAmI(ctx, &adminv1.WhoAmIRequest{})
		require.Equal(t, server.ReasonOperatorRevoked, sdk.Reason(err), "%v", err)
		err = change(adminv1.OperatorStatus_OPERATOR_STATUS_ACTIVE, "oops")
		require.Equal(t, "OPERATOR_STATUS_CHANGE_INVALID", sdk.Reason(err), "revocation is final: %v", err)
		var statuses []string
		for _, e := range dh.auditFrom(t, before) {
			if e.Record.Kind == server.KindOperatorStatus {
				require.Equal(t, clerk.Operator, e.Record.Resource)
				require.Len(t, e.Record.RequestDigest, 32, "the admin's signed request is kept too")
				statuses = append(statuses, e.Record.Reason)
			}
		}
		require.Equal(t, []string{"active → suspended: on leave", "suspended → active: back", "active → revoked: key lost"}, statuses)
		// The receipt of the earlier pull still verifies: the signature was valid when made.
		_, err = sdk.VerifyAuditReceipt(fresh(), "")
		require.NoError(t, err)
	})
}
