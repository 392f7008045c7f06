package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// rpcCommands maps every RPC of the public API to the gxctl command that calls it.
var rpcCommands = map[string]string{
	"gxhub.admin.v1.AdminService.WhoAmI":                     "whoami",
	"gxhub.admin.v1.AdminService.ListDepartments":            "department list",
	"gxhub.admin.v1.AdminService.GetDepartment":              "department get",
	"gxhub.admin.v1.AdminService.RegisterDepartment":         "department register",
	"gxhub.admin.v1.AdminService.RevokeCertificate":          "department revoke",
	"gxhub.admin.v1.AdminService.SuspendCertificate":         "department suspend",
	"gxhub.admin.v1.AdminService.ResumeCertificate":          "department resume",
	"gxhub.admin.v1.AdminService.RekeyDepartment":            "department rekey",
	"gxhub.admin.v1.OperatorService.EnrolOperator":           "operator add",
	"gxhub.admin.v1.OperatorService.ListOperators":           "operator list",
	"gxhub.admin.v1.OperatorService.ChangeOperatorStatus":    "operator suspend",
	"gxhub.audit.v1.EvidenceService.GetRequestEvidence":      "audit proof",
	"gxhub.audit.v1.AuditService.GetLogInfo":                 "audit key",
	"gxhub.audit.v1.AuditService.GetTreeHead":                "audit head",
	"gxhub.audit.v1.AuditService.GetConsistencyProof":        "audit consistency",
	"gxhub.audit.v1.AuditService.GetAnchor":                  "audit head",
	"gxhub.audit.v1.AuditService.GetInclusionProof":          "audit proof",
	"gxhub.audit.v1.AuditService.GetRecord":                  "audit record",
	"gxhub.audit.v1.AuditService.SearchRecords":              "audit trace",
	"gxhub.audit.v1.AuditService.ListAnomalies":              "audit anomalies",
	"gxhub.audit.v1.AuditService.SubjectUsage":               "audit usage",
	"gxhub.certs.v1.TrustService.GetTrustBundle":             "trust",
	"gxhub.certs.v1.ECertService.ListCertTypes":              "ecert types",
	"gxhub.certs.v1.ECertService.RegisterCertType":           "ecert register-type",
	"gxhub.certs.v1.ECertService.IssueECert":                 "ecert issue",
	"gxhub.certs.v1.ECertService.UpdateECert":                "ecert update",
	"gxhub.certs.v1.ECertService.ChangeECertStatus":          "ecert suspend",
	"gxhub.certs.v1.ECertService.GetECertStatus":             "ecert status",
	"gxhub.certs.v1.ECertService.ListECerts":                 "ecert list",
	"gxhub.certs.v1.ECertService.PresentECert":               "ecert present",
	"gxhub.certs.v1.ECertService.VerifyPresentation":         "ecert verify-presentation",
	"gxhub.certs.v1.SealService.MakeSeal":                    "seal make",
	"gxhub.certs.v1.SealService.RevokeSeal":                  "seal revoke",
	"gxhub.certs.v1.SealService.ListSeals":                   "seal list",
	"gxhub.certs.v1.VerifyService.Verify":                    "verify",
	"gxhub.certs.v1.VerifyService.VerifyBatch":               "verify-batch",
	"gxhub.exchange.v1.CalendarService.GetWorkday":           "calendar day",
	"gxhub.exchange.v1.CalendarService.AddWorkingDays":       "calendar deadline",
	"gxhub.exchange.v1.CalendarService.CountWorkingDays":     "calendar count",
	"gxhub.exchange.v1.CatalogService.RegisterResource":      "catalog register",
	"gxhub.exchange.v1.CatalogService.UpdateResource":        "catalog update",
	"gxhub.exchange.v1.CatalogService.GetResource":           "catalog get",
	"gxhub.exchange.v1.CatalogService.ListResourceVersions":  "catalog history",
	"gxhub.exchange.v1.CatalogService.SearchResources":       "catalog search",
	"gxhub.exchange.v1.CatalogService.WithdrawResource":      "catalog withdraw",
	"gxhub.exchange.v1.CatalogService.ListProposals":         "catalog proposal list",
	"gxhub.exchange.v1.CatalogService.GetProposal":           "catalog proposal get",
	"gxhub.exchange.v1.CatalogService.DecideProposal":        "catalog proposal approve",
	"gxhub.exchange.v1.CaseService.OpenCase":                 "case open",
	"gxhub.exchange.v1.CaseService.GetCase":                  "case show",
	"gxhub.exchange.v1.CaseService.ListCases":                "case list",
	"gxhub.exchange.v1.CaseService.CloseCase":                "case close",
	"gxhub.exchange.v1.CaseService.WithdrawCase":             "case withdraw",
	"gxhub.exchange.v1.FreshnessService.ListFreshness":       "freshness",
	"gxhub.exchange.v1.FreshnessService.ListFreshnessAlerts": "freshness",
	"gxhub.exchange.v1.FreshnessService.Heartbeat":           "freshness heartbeat",
	"gxhub.exchange.v1.FreshnessService.FollowAlerts":        "freshness follow",
	"gxhub.exchange.v1.MatterService.DefineMatter":           "matter define",
	"gxhub.exchange.v1.MatterService.GetMatter":              "matter get",
	"gxhub.exchange.v1.MatterService.ListMatters":            "matter list",
	"gxhub.exchange.v1.MatterService.GetExemptions":          "matter exemptions",
	"gxhub.exchange.v1.MatterService.CollectMaterials":       "matter collect",
	"gxhub.exchange.v1.PolicyService.GetPolicy":              "policy show",
	"gxhub.exchange.v1.PolicyService.ChangePolicy":           "policy change",
	"gxhub.exchange.v1.PolicyService.ListPolicyChanges":      "policy history",
	"gxhub.exchange.v1.PullService.Pull":                     "pull",
	"gxhub.exchange.v1.PullBatchService.PullBatch":           "pull",
	"gxhub.exchange.v1.SubscriptionService.Subscribe":        "subscribe",
	"gxhub.exchange.v1.SubscriptionService.RegisterWebhook":  "webhook register",
	"gxhub.exchange.v1.SubscriptionService.ListWebhooks":     "webhook list",
	"gxhub.exchange.v1.PullService.VerifyData":               "verify-data",
	"gxhub.exchange.v1.PullService.CreateBatch":              "batch fetch",
	"gxhub.exchange.v1.RecordService.Publish":                "publish",
	"gxhub.exchange.v1.RecordService.GetRecordHistory":       "record history",
	"gxhub.exchange.v1.ObjectionService.RaiseObjection":      "objection raise",
	"gxhub.exchange.v1.ObjectionService.ListObjections":      "objection list",
	"gxhub.exchange.v1.ObjectionService.ResolveObjection":    "objection resolve",
	"gxhub.exchange.v1.RequirementService.FileRequirement":   "requirement file",
	"gxhub.exchange.v1.RequirementService.GetRequirement":    "requirement get",
	"gxhub.exchange.v1.RequirementService.ListRequirements":  "requirement list",
	"gxhub.exchange.v1.RequirementService.DecideRequirement": "requirement answer",

	// Trust store and sealed documents (issue 15).
	"gxhub.certs.v1.SealService.Timestamp":                     "seal sign",
	"gxhub.certs.v1.SealService.RegisterSealedDocument":        "seal sign",
	"gxhub.certs.v1.SealService.GetSealedDocument":             "seal documents",
	"gxhub.certs.v1.SealService.ListSealedDocuments":           "seal documents",
	"gxhub.certs.v1.TrustStoreService.GetTrustStore":           "trust-store show",
	"gxhub.certs.v1.TrustStoreService.PutTrustBundle":          "trust-store load",
	"gxhub.certs.v1.TrustStoreService.ListTrustBundleVersions": "trust-store versions",
	"gxhub.certs.v1.TrustStoreService.AddCRLSource":            "trust-store crl-add",
	"gxhub.certs.v1.TrustStoreService.RemoveCRLSource":         "trust-store crl-remove",
	"gxhub.certs.v1.TrustStoreService.RefreshCRLs":             "trust-store refresh",

	// Working-day calendar years and publications (F5).
	"gxhub.exchange.v1.CalendarService.ListCalendarYears":        "calendar years",
	"gxhub.exchange.v1.CalendarService.PublishCalendar":          "calendar publish",
	"gxhub.exchange.v1.CalendarService.ListCalendarPublications": "calendar publications",

	// Federation with other hubs (docs/FEDERATION.md).
	"gxhub.exchange.v1.FederationService.GetHubCard":            "federation identity",
	"gxhub.exchange.v1.FederationService.ProposeAgreement":      "federation propose",
	"gxhub.exchange.v1.FederationService.AcceptAgreement":       "federation accept",
	"gxhub.exchange.v1.FederationService.ListAgreements":        "federation list",
	"gxhub.exchange.v1.FederationService.ChangeAgreement":       "federation suspend",
	"gxhub.exchange.v1.FederationService.ListRemoteResources":   "federation resources",
	"gxhub.exchange.v1.FederationService.FileRemoteRequirement": "federation requirement file",
	"gxhub.exchange.v1.FederationService.GetRemoteRequirement":  "federation requirement get",
	"gxhub.exchange.v1.FederationService.PullRemote":            "federation pull",
}

// rpcGaps are RPCs known to have no command yet, with who adds it. Keep it empty.
var rpcGaps = map[string]string{}

// TestEveryRPCHasACommand: each RPC in the protos has a gxctl command, and each command
// named here exists. A new RPC without a command fails.
func TestEveryRPCHasACommand(t *testing.T) {
	rpcs := map[string]bool{}
	protoregistry.GlobalFiles.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		if !strings.HasPrefix(string(fd.Package()), "gxhub.") {
			return true
		}
		for i := 0; i < fd.Services().Len(); i++ {
			sd := fd.Services().Get(i)
			for j := 0; j < sd.Methods().Len(); j++ {
				rpcs[string(sd.Methods().Get(j).FullName())] = true
			}
		}
		return true
	})
	require.Greater(t, len(rpcs), 50, "the API's services are linked into gxctl")
	for rpc := range rpcs {
		t.Run(rpc, func(t *testing.T) {
			if why, ok := rpcGaps[rpc]; ok {
				t.Skipf("known gap: %s", why)
			}
			path, ok := rpcCommands[rpc]
			require.True(t, ok, "RPC %s has no gxctl command: add one and list it in rpcCommands", rpc)
			c, rest, err := root.Find(strings.Fields(path))
			require.NoError(t, err)
			require.Empty(t, rest)
			require.Equal(t, path, strings.TrimPrefix(c.CommandPath(), "gxctl "))
		})
	}
	for rpc := range rpcCommands {
		require.True(t, rpcs[rpc], "rpcCommands names %s, which is not an RPC of the API", rpc)
	}
}
