package rpc

import (
	"context"
	"slices"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"

	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/policy"
)

// ReasonOperatorRole refuses an operator whose roles do not cover the operation.
const ReasonOperatorRole = "OPERATOR_ROLE_REQUIRED"

// OperatorMethods says which operator roles may call each RPC when the request is signed
// by an operator's own key (D1). The admin role may call every RPC the department may, so
// it is not listed; an RPC missing here is for admins only. The department's own roles
// (RequireRole) apply on top: an operator never does more than its department may.
//
// Reads of shared reference data are open to every role; the auditor reads the audit
// trail and its evidence (the operator too, for the receipts of its acts); the approver verifies certificates and documents; the operator
// (经办人) does the department's business: pulls, publishing, requirements, cases,
// objections, e-certificates. Enrolling and suspending operators, policy, calendar,
// matters, trust store, seals and catalogue decisions stay with admins.
var OperatorMethods = func() map[string][]string {
	all := []string{policy.RoleOperator, policy.RoleApprover, policy.RoleAuditor}
	m := map[string][]string{}
	add := func(roles []string, methods ...string) {
		for _, x := range methods {
			m[x] = append(m[x], roles...)
		}
	}
	add(all,
		"/gxhub.admin.v1.AdminService/WhoAmI", "/gxhub.admin.v1.AdminService/ListDepartments", "/gxhub.admin.v1.AdminService/GetDepartment",
		"/gxhub.admin.v1.OperatorService/ListOperators",
		"/gxhub.audit.v1.AuditService/GetLogInfo", "/gxhub.audit.v1.AuditService/GetTreeHead", "/gxhub.audit.v1.AuditService/GetConsistencyProof",
		"/gxhub.audit.v1.AuditService/GetAnchor", "/gxhub.audit.v1.AuditService/GetInclusionProof",
		"/gxhub.certs.v1.TrustService/GetTrustBundle", "/gxhub.certs.v1.TrustStoreService/GetTrustStore", "/gxhub.certs.v1.TrustStoreService/ListTrustBundleVersions",
		"/gxhub.certs.v1.ECertService/ListCertTypes", "/gxhub.certs.v1.ECertService/GetECertStatus", "/gxhub.certs.v1.ECertService/ListECerts",
		"/gxhub.certs.v1.SealService/ListSeals", "/gxhub.certs.v1.SealService/GetSealedDocument", "/gxhub.certs.v1.SealService/ListSealedDocuments",
		"/gxhub.exchange.v1.CatalogService/GetResource", "/gxhub.exchange.v1.CatalogService/ListResourceVersions", "/gxhub.exchange.v1.CatalogService/SearchResources",
		"/gxhub.exchange.v1.CatalogService/ListProposals", "/gxhub.exchange.v1.CatalogService/GetProposal",
		"/gxhub.exchange.v1.CalendarService/GetWorkday", "/gxhub.exchange.v1.CalendarService/AddWorkingDays", "/gxhub.exchange.v1.CalendarService/CountWorkingDays",
		"/gxhub.exchange.v1.CalendarService/ListCalendarYears", "/gxhub.exchange.v1.CalendarService/ListCalendarPublications",
		"/gxhub.exchange.v1.FreshnessService/ListFreshness", "/gxhub.exchange.v1.FreshnessService/ListFreshnessAlerts",
		"/gxhub.exchange.v1.MatterService/GetMatter", "/gxhub.exchange.v1.MatterService/ListMatters",
		"/gxhub.exchange.v1.PolicyService/GetPolicy", "/gxhub.exchange.v1.PolicyService/ListPolicyChanges",
		"/gxhub.exchange.v1.RequirementService/GetRequirement", "/gxhub.exchange.v1.RequirementService/ListRequirements",
		"/gxhub.exchange.v1.ObjectionService/ListObjections",
		"/gxhub.exchange.v1.CaseService/GetCase", "/gxhub.exchange.v1.CaseService/ListCases",
		"/gxhub.exchange.v1.FederationService/GetHubCard", "/gxhub.exchange.v1.FederationService/ListAgreements",
		"/gxhub.exchange.v1.FederationService/ListRemoteResources", "/gxhub.exchange.v1.FederationService/GetRemoteRequirement",
	)
	add([]string{policy.RoleAuditor},
		"/gxhub.audit.v1.AuditService/SearchRecords", "/gxhub.audit.v1.AuditService/ListAnomalies", "/gxhub.audit.v1.AuditService/SubjectUsage",
	)
	// A record and the request behind it, for the receipt of one's own act (the hub still
	// limits them to auditors and the department that acted).
	add([]string{policy.RoleAuditor, policy.RoleOperator},
		"/gxhub.audit.v1.AuditService/GetRecord", "/gxhub.audit.v1.EvidenceService/GetRequestEvidence",
	)
	add([]string{policy.RoleApprover, policy.RoleOperator},
		"/gxhub.certs.v1.VerifyService/Verify", "/gxhub.certs.v1.VerifyService/VerifyBatch", "/gxhub.certs.v1.ECertService/VerifyPresentation",
		"/gxhub.exchange.v1.PullService/VerifyData", // 核验 at the counter: outcomes, never a value
	)
	add([]string{policy.RoleOperator},
		"/gxhub.exchange.v1.PullService/Pull", "/gxhub.exchange.v1.PullBatchService/PullBatch", "/gxhub.exchange.v1.PullService/CreateBatch", "/gxhub.exchange.v1.RecordService/Publish", "/gxhub.exchange.v1.RecordService/GetRecordHistory",
		"/gxhub.exchange.v1.SubscriptionService/Subscribe", "/gxhub.exchange.v1.SubscriptionService/RegisterWebhook",
		"/gxhub.exchange.v1.SubscriptionService/ListWebhooks",
		"/gxhub.exchange.v1.ObjectionService/RaiseObjection", "/gxhub.exchange.v1.ObjectionService/ResolveObjection",
		"/gxhub.exchange.v1.RequirementService/FileRequirement", "/gxhub.exchange.v1.RequirementService/DecideRequirement",
		"/gxhub.exchange.v1.CaseService/OpenCase", "/gxhub.exchange.v1.CaseService/CloseCase", "/gxhub.exchange.v1.CaseService/WithdrawCase",
		"/gxhub.exchange.v1.MatterService/GetExemptions", "/gxhub.exchange.v1.MatterService/CollectMaterials",
		"/gxhub.exchange.v1.FreshnessService/Heartbeat", "/gxhub.exchange.v1.FreshnessService/FollowAlerts",
		"/gxhub.exchange.v1.FederationService/FileRemoteRequirement", "/gxhub.exchange.v1.FederationService/PullRemote",
		"/gxhub.exchange.v1.CatalogService/RegisterResource", "/gxhub.exchange.v1.CatalogService/UpdateResource", "/gxhub.exchange.v1.CatalogService/WithdrawResource",
		"/gxhub.certs.v1.ECertService/IssueECert", "/gxhub.certs.v1.ECertService/UpdateECert", "/gxhub.certs.v1.ECertService/ChangeECertStatus",
		"/gxhub.certs.v1.ECertService/PresentECert", "/gxhub.certs.v1.SealService/Timestamp", "/gxhub.certs.v1.SealService/RegisterSealedDocument",
	)
	return m
}()

// OperatorMayCall reports whether an operator holding roles may call the RPC method.
func OperatorMayCall(roles []string, method string) bool {
	if slices.Contains(roles, policy.RoleAdmin) {
		return true
	}
	for _, r := range OperatorMethods[method] {
		if slices.Contains(roles, r) {
			return true
		}
	}
	return false
}

// AuthorizeOperator refuses an operator-signed call to a method its roles do not cover.
// method "" (not known in this context) is not checked here: the gRPC interceptor checks
// every gRPC call and RequireCaller every REST call by the gateway's method name.
func AuthorizeOperator(c *Caller, method string) error {
	if c == nil || c.Operator == nil || method == "" || OperatorMayCall(c.OperatorRoles, method) {
		return nil
	}
	roles := "no role"
	if len(c.OperatorRoles) > 0 {
		roles = "the roles " + strings.Join(c.OperatorRoles, ", ")
	}
	return exchange.Errorf(exchange.KindPermissionDenied, ReasonOperatorRole,
		"operator %s (%s) of department %s holds %s, which do not allow %s (docs/ROLES.md lists what each role may do): ask the department's admin for the role, or have a holder of it act",
		c.Operator.Serial, c.Operator.Name, c.Department.Code, roles, method)
}

// methodOf returns the full RPC method being served: gRPC's, or the REST gateway's.
func methodOf(ctx context.Context) string {
	if m, ok := grpc.Method(ctx); ok && m != "" {
		return m
	}
	m, _ := runtime.RPCMethod(ctx)
	return m
}
