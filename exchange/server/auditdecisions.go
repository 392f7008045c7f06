package server

import (
	certsserver "github.com/gxhub/gxhub/certs/server"
	"github.com/gxhub/gxhub/ledger"
	ledgerserver "github.com/gxhub/gxhub/ledger/server"
)

// AuditDecision is what the audit log records of one RPC: the kinds of the records a
// successful call makes, or why it makes none.
type AuditDecision struct {
	// Kinds are the records a successful call makes (each write's, or the read's).
	Kinds []ledger.Kind
	// When narrows Kinds ("when it names a subject", "when it finds any").
	When string
	// NotAudited says why the call makes no record; set exactly when Kinds is empty.
	NotAudited string
}

func audited(kinds ...ledger.Kind) AuditDecision { return AuditDecision{Kinds: kinds} }

func auditedWhen(when string, kinds ...ledger.Kind) AuditDecision {
	return AuditDecision{Kinds: kinds, When: when}
}

func notAudited(why string) AuditDecision { return AuditDecision{NotAudited: why} }

const (
	publicMeta    = "public data: no personal data, no decision"
	logMeta       = "the log's own hashes and signed heads: public, for anyone watching the log"
	auditRead     = "reads audit records, which hold keyed subject hashes, never personal data; reading the log is not itself logged (every verification would grow it)"
	catalogueRead = "the catalogue (resources, items, proposals) is readable by every department and holds no personal data"
)

// AuditDecisions is THE list of what each RPC of every gxhub service records in the audit
// log (REQUIREMENTS C1: every write and every read of personal data). A new RPC without an
// entry fails TestAuditDecisionsCoverEveryRPC; TestAuditedCallsLeaveTheirRecords calls the
// audited ones on a real hub and finds each record. Writes are audited through
// auditedWrite (record and write commit together), reads of personal data through
// auditRecord (the record is in the log before the answer).
var AuditDecisions = map[string]AuditDecision{
	"/gxhub.admin.v1.AdminService/WhoAmI":             notAudited("returns the caller's own registration"),
	"/gxhub.admin.v1.AdminService/ListDepartments":    notAudited("the department registry (organisations, their public certificates): " + publicMeta),
	"/gxhub.admin.v1.AdminService/GetDepartment":      notAudited("the department registry (organisations, their public certificates): " + publicMeta),
	"/gxhub.admin.v1.AdminService/RegisterDepartment": audited(KindDepartmentRegister),
	"/gxhub.admin.v1.AdminService/RevokeCertificate":  audited(KindCertificateStatus),
	"/gxhub.admin.v1.AdminService/SuspendCertificate": audited(KindCertificateStatus),
	"/gxhub.admin.v1.AdminService/ResumeCertificate":  audited(KindCertificateStatus),
	"/gxhub.admin.v1.AdminService/RekeyDepartment":    audited(KindDepartmentRekey),

	"/gxhub.admin.v1.OperatorService/EnrolOperator":        audited(KindOperatorEnrol, ledger.KindPolicyChange),
	"/gxhub.admin.v1.OperatorService/ChangeOperatorStatus": audited(KindOperatorStatus),
	"/gxhub.admin.v1.OperatorService/ListOperators":        notAudited("the caller's own department's operators (names, roles, certificate serials): its own staff register"),

	"/gxhub.audit.v1.EvidenceService/GetRequestEvidence": notAudited(auditRead + "; the request evidence it returns is a signature over method, path, body digest and time (not the body), to the auditors and the department that acted"),

	"/gxhub.audit.v1.AuditService/GetLogInfo":          notAudited(logMeta),
	"/gxhub.audit.v1.AuditService/GetTreeHead":         notAudited(logMeta),
	"/gxhub.audit.v1.AuditService/GetConsistencyProof": notAudited(logMeta),
	"/gxhub.audit.v1.AuditService/GetAnchor":           notAudited(logMeta),
	"/gxhub.audit.v1.AuditService/GetInclusionProof":   notAudited(auditRead),
	"/gxhub.audit.v1.AuditService/GetRecord":           notAudited(auditRead),
	"/gxhub.audit.v1.AuditService/SearchRecords":       auditedWhen("when it names a subject (a lookup of one person's records): one record with the first page", ledgerserver.KindAuditSearch),
	"/gxhub.audit.v1.AuditService/ListAnomalies":       notAudited(auditRead),
	"/gxhub.audit.v1.AuditService/SubjectUsage":        audited(ledgerserver.KindSubjectUsage),

	"/gxhub.certs.v1.TrustService/GetTrustBundle":     notAudited("the hub's public CA certificates"),
	"/gxhub.certs.v1.VerifyService/Verify":            audited(certsserver.KindCertVerify),
	"/gxhub.certs.v1.VerifyService/VerifyBatch":       audited(certsserver.KindCertVerify),
	"/gxhub.certs.v1.ECertService/ListCertTypes":      notAudited("licence type definitions: " + publicMeta),
	"/gxhub.certs.v1.ECertService/RegisterCertType":   audited(certsserver.KindECertTypeRegister),
	"/gxhub.certs.v1.ECertService/IssueECert":         audited(certsserver.KindECertIssue),
	"/gxhub.certs.v1.ECertService/UpdateECert":        audited(certsserver.KindECertUpdate),
	"/gxhub.certs.v1.ECertService/ChangeECertStatus":  audited(certsserver.KindECertStatus),
	"/gxhub.certs.v1.ECertService/GetECertStatus":     notAudited("the status of one licence named by its identifier, which the asker holds from the sealed licence it checks (as a CRL or OCSP answer); no lookup by holder"),
	"/gxhub.certs.v1.ECertService/ListECerts":         audited(certsserver.KindECertList),
	"/gxhub.certs.v1.ECertService/PresentECert":       audited(certsserver.KindECertPresent),
	"/gxhub.certs.v1.ECertService/VerifyPresentation": audited(certsserver.KindECertPresentVerify),

	"/gxhub.certs.v1.SealService/MakeSeal":               audited(certsserver.KindSealMake),
	"/gxhub.certs.v1.SealService/RevokeSeal":             audited(certsserver.KindSealRevoke),
	"/gxhub.certs.v1.SealService/ListSeals":              notAudited("departments' seals (organisations): " + publicMeta),
	"/gxhub.certs.v1.SealService/Timestamp":              notAudited("relays the hash of a signature value to the time-stamping authority; keeps and reveals nothing"),
	"/gxhub.certs.v1.SealService/RegisterSealedDocument": audited(certsserver.KindDocumentSeal),
	"/gxhub.certs.v1.SealService/GetSealedDocument":      audited(certsserver.KindSealedDocumentRead),
	"/gxhub.certs.v1.SealService/ListSealedDocuments":    notAudited("names, digests and signers of a department's registered documents, without their content"),

	"/gxhub.certs.v1.TrustStoreService/GetTrustStore":           notAudited("the verifier's trust anchors and CRL sources: " + publicMeta),
	"/gxhub.certs.v1.TrustStoreService/ListTrustBundleVersions": notAudited("the verifier's trust anchors: " + publicMeta),
	"/gxhub.certs.v1.TrustStoreService/PutTrustBundle":          audited(certsserver.KindTrustBundle),
	"/gxhub.certs.v1.TrustStoreService/AddCRLSource":            audited(certsserver.KindTrustCRLSource),
	"/gxhub.certs.v1.TrustStoreService/RemoveCRLSource":         audited(certsserver.KindTrustCRLSource),
	"/gxhub.certs.v1.TrustStoreService/RefreshCRLs":             notAudited("fetches the configured public CRLs again (a cache of what their issuers publish); changes no decision"),

	"/gxhub.exchange.v1.CalendarService/GetWorkday":               notAudited("the working-day calendar: " + publicMeta),
	"/gxhub.exchange.v1.CalendarService/AddWorkingDays":           notAudited("the working-day calendar: " + publicMeta),
	"/gxhub.exchange.v1.CalendarService/CountWorkingDays":         notAudited("the working-day calendar: " + publicMeta),
	"/gxhub.exchange.v1.CalendarService/ListCalendarYears":        notAudited("the working-day calendar: " + publicMeta),
	"/gxhub.exchange.v1.CalendarService/ListCalendarPublications": notAudited("the calendar's publications (each audited when made): " + publicMeta),
	"/gxhub.exchange.v1.CalendarService/PublishCalendar":          audited(ledger.KindCalendarPublish),

	"/gxhub.exchange.v1.CatalogService/RegisterResource":     audited(KindCatalogChange),
	"/gxhub.exchange.v1.CatalogService/UpdateResource":       auditedWhen("a narrowing of a resource with granted requirements is a proposal (catalog.proposal), anything else a new version (catalog.change)", KindCatalogChange, KindCatalogProposal),
	"/gxhub.exchange.v1.CatalogService/WithdrawResource":     auditedWhen("as UpdateResource", KindCatalogChange, KindCatalogProposal),
	"/gxhub.exchange.v1.CatalogService/GetResource":          notAudited(catalogueRead),
	"/gxhub.exchange.v1.CatalogService/ListResourceVersions": notAudited(catalogueRead),
	"/gxhub.exchange.v1.CatalogService/SearchResources":      notAudited(catalogueRead),
	"/gxhub.exchange.v1.CatalogService/ListProposals":        notAudited(catalogueRead),
	"/gxhub.exchange.v1.CatalogService/GetProposal":          notAudited(catalogueRead),
	"/gxhub.exchange.v1.CatalogService/DecideProposal":       auditedWhen("an approval also records the new version (catalog.change)", KindCatalogProposal, KindCatalogChange),

	"/gxhub.exchange.v1.CaseService/OpenCase":     audited(KindCase),
	"/gxhub.exchange.v1.CaseService/GetCase":      audited(KindCase),
	"/gxhub.exchange.v1.CaseService/ListCases":    auditedWhen("when it finds any", KindCase),
	"/gxhub.exchange.v1.CaseService/CloseCase":    audited(KindCase),
	"/gxhub.exchange.v1.CaseService/WithdrawCase": audited(KindCase),

	"/gxhub.exchange.v1.FreshnessService/ListFreshness":       notAudited("resources' last update times: " + publicMeta),
	"/gxhub.exchange.v1.FreshnessService/ListFreshnessAlerts": notAudited("the caller's stale resources: " + publicMeta),
	"/gxhub.exchange.v1.FreshnessService/Heartbeat":           audited(KindHeartbeat),

	"/gxhub.exchange.v1.MatterService/DefineMatter":     audited(KindMatterChange),
	"/gxhub.exchange.v1.MatterService/GetMatter":        notAudited("the matter registry: " + publicMeta),
	"/gxhub.exchange.v1.MatterService/ListMatters":      notAudited("the matter registry: " + publicMeta),
	"/gxhub.exchange.v1.MatterService/GetExemptions":    audited(KindExemptionLookup),
	"/gxhub.exchange.v1.MatterService/CollectMaterials": auditedWhen("one pull record per subject pulled, a case record per e-certificate fetched", ledger.KindPull, KindCase),

	"/gxhub.exchange.v1.FederationService/GetHubCard":            notAudited("this hub's public identity card (CA root, key certificates, level, region): " + publicMeta),
	"/gxhub.exchange.v1.FederationService/ProposeAgreement":      audited(KindFederationAgreement),
	"/gxhub.exchange.v1.FederationService/AcceptAgreement":       audited(KindFederationAgreement),
	"/gxhub.exchange.v1.FederationService/ListAgreements":        notAudited("the hubs this hub shares with and on which terms (each change audited at both ends): " + publicMeta),
	"/gxhub.exchange.v1.FederationService/ChangeAgreement":       audited(KindFederationAgreement),
	"/gxhub.exchange.v1.FederationService/ListRemoteResources":   auditedWhen("when a synchronisation changed the stored copies", KindFederationCatalog),
	"/gxhub.exchange.v1.FederationService/FileRemoteRequirement": audited(KindFederationRequirement),
	"/gxhub.exchange.v1.FederationService/GetRemoteRequirement":  auditedWhen("when the home hub's answer carries a new decision", KindFederationRequirement),
	"/gxhub.exchange.v1.FederationService/PullRemote":            auditedWhen("the forward (federation.forward) before it leaves, then one pull record per subject with the outcome and the home hub's log indices", KindFederationForward, ledger.KindPull),

	"/gxhub.exchange.v1.ObjectionService/RaiseObjection":   audited(KindObjection),
	"/gxhub.exchange.v1.ObjectionService/ListObjections":   auditedWhen("when it finds any", KindObjection),
	"/gxhub.exchange.v1.ObjectionService/ResolveObjection": audited(KindObjection),

	"/gxhub.exchange.v1.PolicyService/GetPolicy":         notAudited("the pull policy's rules (each change audited): " + publicMeta),
	"/gxhub.exchange.v1.PolicyService/ListPolicyChanges": notAudited("the history of policy changes (each audited when made): " + publicMeta),
	"/gxhub.exchange.v1.PolicyService/ChangePolicy":      audited(ledger.KindPolicyChange),

	"/gxhub.exchange.v1.PullService/Pull":              audited(ledger.KindPull),
	"/gxhub.exchange.v1.PullBatchService/PullBatch":    audited(ledger.KindPull), // one record per entry, granted or refused
	"/gxhub.exchange.v1.PullService/VerifyData":        audited(ledger.KindPull), // reason VERIFIED: the outcomes, never a value
	"/gxhub.exchange.v1.FreshnessService/FollowAlerts": notAudited("the caller's own resources' freshness (when each was last updated): no personal data"),
	// A batch file: one record per subject of the file (keyed hash), with the file's SM3; a
	// refusal is a refused pull's record. Its downloads serve those bytes again, unrecorded.
	"/gxhub.exchange.v1.PullService/CreateBatch": audited(KindBatchFile, ledger.KindPull),

	"/gxhub.exchange.v1.SubscriptionService/Subscribe":       auditedWhen("each change delivered is answered by the pull use case: one pull record per subject", ledger.KindPull),
	"/gxhub.exchange.v1.SubscriptionService/RegisterWebhook": audited(KindWebhook),
	"/gxhub.exchange.v1.SubscriptionService/ListWebhooks":    notAudited("the caller's own webhooks and dead letters (URLs, cursors, errors): no personal data"),

	"/gxhub.exchange.v1.RecordService/Publish":          audited(ledger.KindPublish),
	"/gxhub.exchange.v1.RecordService/GetRecordHistory": audited(KindRecordHistory),

	"/gxhub.exchange.v1.RequirementService/FileRequirement":   audited(ledger.KindRequirementDecision),
	"/gxhub.exchange.v1.RequirementService/GetRequirement":    notAudited("a requirement names departments, a resource and items, no person (an escalation or recomputed deadline it triggers is an audited write)"),
	"/gxhub.exchange.v1.RequirementService/ListRequirements":  notAudited("as GetRequirement"),
	"/gxhub.exchange.v1.RequirementService/DecideRequirement": audited(ledger.KindRequirementDecision),
}
