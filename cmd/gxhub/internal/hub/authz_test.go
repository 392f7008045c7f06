package hub_test

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"crypto/tls"
	"crypto/x509"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/exchange/server"
	"github.com/gxhub/gxhub/policy"
	"github.com/gxhub/gxhub/sdk"
	adminv1 "github.com/gxhub/gxhub/sdk/api/admin/v1"
	certsv1 "github.com/gxhub/gxhub/sdk/api/certs/v1"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
	"github.com/gxhub/gxhub/sdk/identity"
	"github.com/gxhub/gxhub/sdk/reqsig"

	// Registers every gxhub proto package's descriptors.
	_ "github.com/gxhub/gxhub/sdk/api/audit/v1"
	_ "github.com/gxhub/gxhub/sdk/api/exchange/v1"
)

// gxhubMethods returns every RPC of the gxhub.* proto packages as full gRPC method names
// with their request message types.
func gxhubMethods(t *testing.T) map[string]protoreflect.MethodDescriptor {
	t.Helper()
	out := map[string]protoreflect.MethodDescriptor{}
	protoregistry.GlobalFiles.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		if !strings.HasPrefix(string(fd.Package()), "gxhub.") {
			return true
		}
		for i := 0; i < fd.Services().Len(); i++ {
			s := fd.Services().Get(i)
			for j := 0; j < s.Methods().Len(); j++ {
				m := s.Methods().Get(j)
				out["/"+string(s.FullName())+"/"+string(m.Name())] = m
			}
		}
		return true
	})
	require.NotEmpty(t, out)
	return out
}

type detCodec struct{}

func (detCodec) Name() string { return "proto" }
func (detCodec) Marshal(v any) (mem.BufferSlice, error) {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(v.(proto.Message))
	return mem.BufferSlice{mem.SliceBuffer(b)}, err
}
func (detCodec) Unmarshal(data mem.BufferSlice, v any) error {
	return proto.Unmarshal(data.Materialize(), v.(proto.Message))
}

var _ encoding.CodecV2 = detCodec{}

// rawConn dials the hub for generic calls; id nil sends them unsigned.
func (th *testHub) rawConn(t *testing.T, tlsCA []byte, id *identity.Identity) *grpc.ClientConn {
	t.Helper()
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(tlsCA))
	sign := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if id == nil {
			return invoker(ctx, method, req, reply, cc, opts...)
		}
		body, err := proto.MarshalOptions{Deterministic: true}.Marshal(req.(proto.Message))
		if err != nil {
			return err
		}
		h, err := reqsig.Sign(id.Key, id.KeyID(), "POST", method, body, time.Now())
		if err != nil {
			return err
		}
		return invoker(metadata.AppendToOutgoingContext(ctx, "authorization", h), method, req, reply, cc, opts...)
	}
	conn, err := grpc.NewClient(strings.TrimPrefix(th.url, "https://"),
		grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: pool})),
		grpc.WithDefaultCallOptions(grpc.ForceCodecV2(detCodec{})),
		grpc.WithUnaryInterceptor(sign))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return conn
}

// registerRoleDepartment registers a department holding exactly role, with a fresh key.
func (th *testHub) registerRoleDepartment(t *testing.T, coordinator *sdk.Client, org string, role adminv1.Role) *identity.Identity {
	t.Helper()
	ctx := context.Background()
	key, err := sm.GenerateKey()
	require.NoError(t, err)
	pub, err := sm.MarshalPublicKeyPEM(&key.PublicKey)
	require.NoError(t, err)
	dept := &adminv1.Department{Code: hubCode(t, "500112", org), Name: "测试部门" + org, Level: adminv1.Level_LEVEL_COUNTY, Region: "500112",
		Roles: []adminv1.Role{role}}
	resp, err := coordinator.Admin.RegisterDepartment(ctx, &adminv1.RegisterDepartmentRequest{Department: dept, PublicKeyPem: string(pub)})
	require.NoError(t, err)
	me := coordinator.Identity()
	return &identity.Identity{Code: dept.GetCode(), Key: key, CertPEM: []byte(resp.GetCertificatePem()), HubURL: th.url, TLSCAPEM: me.TLSCAPEM}
}

// access is who may call an RPC as far as authorization goes.
type access struct {
	public bool     // callable unsigned
	roles  []string // nil: every signed department; else only departments holding one of these
	reason string   // refusal reason for the others (default ROLE_REQUIRED)
	note   string   // further checks inside the operation (resource owner, policy)
}

var (
	public   = access{public: true}
	signed   = access{}
	only     = func(roles ...string) access { return access{roles: roles} }
	resource = func(note string) access { return access{note: note} }
)

// authzMatrix declares, for every RPC, which department roles may call it. A new RPC
// without an entry fails TestAuthorizationMatrix.
var authzMatrix = map[string]access{
	"/gxhub.admin.v1.AdminService/WhoAmI":             signed,
	"/gxhub.admin.v1.AdminService/ListDepartments":    signed,
	"/gxhub.admin.v1.AdminService/GetDepartment":      signed,
	"/gxhub.admin.v1.AdminService/RegisterDepartment": only("coordinator"),
	"/gxhub.admin.v1.AdminService/RevokeCertificate":  only("coordinator"),
	"/gxhub.admin.v1.AdminService/SuspendCertificate": only("coordinator"),
	"/gxhub.admin.v1.AdminService/ResumeCertificate":  only("coordinator"),
	"/gxhub.admin.v1.AdminService/RekeyDepartment":    signed,

	"/gxhub.admin.v1.OperatorService/EnrolOperator":        resource("a department enrols its own operators (its key or an admin operator)"),
	"/gxhub.admin.v1.OperatorService/ListOperators":        signed,
	"/gxhub.admin.v1.OperatorService/ChangeOperatorStatus": resource("the operator's own department"),
	"/gxhub.audit.v1.EvidenceService/GetRequestEvidence":   {roles: []string{"auditor"}, reason: "AUDITOR_REQUIRED", note: "a department also reads the requests behind its own records"},

	"/gxhub.audit.v1.AuditService/GetLogInfo":          public,
	"/gxhub.audit.v1.AuditService/GetTreeHead":         public,
	"/gxhub.audit.v1.AuditService/GetConsistencyProof": public,
	"/gxhub.audit.v1.AuditService/GetAnchor":           public,
	"/gxhub.audit.v1.AuditService/GetInclusionProof":   resource("the leaf only for auditors and the department that acted in the record, hashes for the others (TestAuditRoutesKeepOtherDepartmentsLeaves)"),
	"/gxhub.audit.v1.AuditService/GetRecord":           {roles: []string{"auditor"}, reason: "AUDITOR_REQUIRED", note: "a department also reads its own records"},
	"/gxhub.audit.v1.AuditService/SearchRecords":       only("auditor"),
	"/gxhub.audit.v1.AuditService/ListAnomalies":       only("auditor"),
	"/gxhub.audit.v1.AuditService/SubjectUsage":        only("coordinator", "auditor"),

	"/gxhub.certs.v1.TrustService/GetTrustBundle":         public,
	"/gxhub.certs.v1.VerifyService/Verify":                signed,
	"/gxhub.certs.v1.VerifyService/VerifyBatch":           signed,
	"/gxhub.certs.v1.ECertService/ListCertTypes":          signed,
	"/gxhub.certs.v1.ECertService/RegisterCertType":       only("issuer"),
	"/gxhub.certs.v1.ECertService/IssueECert":             only("issuer"),
	"/gxhub.certs.v1.ECertService/UpdateECert":            only("issuer"),
	"/gxhub.certs.v1.ECertService/ChangeECertStatus":      only("issuer"),
	"/gxhub.certs.v1.ECertService/GetECertStatus":         signed,
	"/gxhub.certs.v1.ECertService/ListECerts":             signed,
	"/gxhub.certs.v1.ECertService/PresentECert":           resource("the holder presents its own e-certificate"),
	"/gxhub.certs.v1.ECertService/VerifyPresentation":     signed,
	"/gxhub.certs.v1.SealService/MakeSeal":                {roles: []string{"coordinator", "issuer"}, note: "an issuer only for its own department (request names it)"},
	"/gxhub.certs.v1.SealService/RevokeSeal":              resource("coordinator, or an issuer for its own seal"),
	"/gxhub.certs.v1.SealService/ListSeals":               signed,
	"/gxhub.exchange.v1.CalendarService/GetWorkday":       public,
	"/gxhub.exchange.v1.CalendarService/AddWorkingDays":   public,
	"/gxhub.exchange.v1.CalendarService/CountWorkingDays": public,

	"/gxhub.exchange.v1.CalendarService/ListCalendarYears":        public,
	"/gxhub.exchange.v1.CalendarService/ListCalendarPublications": public,
	"/gxhub.exchange.v1.CalendarService/PublishCalendar":          only("coordinator"),

	"/gxhub.exchange.v1.CatalogService/RegisterResource":     only("provider"),
	"/gxhub.exchange.v1.CatalogService/UpdateResource":       only("provider"),
	"/gxhub.exchange.v1.CatalogService/GetResource":          signed,
	"/gxhub.exchange.v1.CatalogService/ListResourceVersions": signed,
	"/gxhub.exchange.v1.CatalogService/SearchResources":      signed,
	"/gxhub.exchange.v1.CatalogService/WithdrawResource":     only("provider"),
	"/gxhub.exchange.v1.CatalogService/ListProposals":        signed,
	"/gxhub.exchange.v1.CatalogService/GetProposal":          signed,
	"/gxhub.exchange.v1.CatalogService/DecideProposal":       resource("the coordinator approves or rejects; the proposing provider withdraws"),

	"/gxhub.exchange.v1.CaseService/OpenCase":     only("consumer"),
	"/gxhub.exchange.v1.CaseService/GetCase":      resource("the department that opened the case, coordinators and auditors"),
	"/gxhub.exchange.v1.CaseService/ListCases":    signed,
	"/gxhub.exchange.v1.CaseService/CloseCase":    resource("the department that opened the case"),
	"/gxhub.exchange.v1.CaseService/WithdrawCase": resource("the department that opened the case"),

	"/gxhub.exchange.v1.FreshnessService/ListFreshness":       signed,
	"/gxhub.exchange.v1.FreshnessService/ListFreshnessAlerts": signed,
	"/gxhub.exchange.v1.FreshnessService/Heartbeat":           only("provider"),
	"/gxhub.exchange.v1.FreshnessService/FollowAlerts":        only("provider"),

	"/gxhub.exchange.v1.MatterService/DefineMatter":     only("coordinator"),
	"/gxhub.exchange.v1.MatterService/GetMatter":        signed,
	"/gxhub.exchange.v1.MatterService/ListMatters":      signed,
	"/gxhub.exchange.v1.MatterService/GetExemptions":    signed,
	"/gxhub.exchange.v1.MatterService/CollectMaterials": signed,

	"/gxhub.exchange.v1.ObjectionService/RaiseObjection":   only("consumer"),
	"/gxhub.exchange.v1.ObjectionService/ListObjections":   signed,
	"/gxhub.exchange.v1.ObjectionService/ResolveObjection": resource("the provider of the objected record"),

	"/gxhub.exchange.v1.PolicyService/GetPolicy":         signed,
	"/gxhub.exchange.v1.PolicyService/ListPolicyChanges": signed,
	"/gxhub.exchange.v1.PolicyService/ChangePolicy":      resource("coordinator any rule; a department only its own operators' g rules"),

	"/gxhub.exchange.v1.PullService/Pull":                        {roles: []string{"consumer"}, note: "then the invariants (own granted requirement, registered matter, own open case, …), then the casbin policy"},
	"/gxhub.exchange.v1.FederationService/GetHubCard":            signed,
	"/gxhub.exchange.v1.FederationService/ProposeAgreement":      only("coordinator"),
	"/gxhub.exchange.v1.FederationService/AcceptAgreement":       only("coordinator"),
	"/gxhub.exchange.v1.FederationService/ListAgreements":        signed,
	"/gxhub.exchange.v1.FederationService/ChangeAgreement":       only("coordinator"),
	"/gxhub.exchange.v1.FederationService/ListRemoteResources":   signed,
	"/gxhub.exchange.v1.FederationService/FileRemoteRequirement": {roles: []string{"consumer"}, note: "then a usable agreement offering the resource; decided at the home hub"},
	"/gxhub.exchange.v1.FederationService/GetRemoteRequirement":  resource("the consumer of the remote requirement, the coordinator or an auditor"),
	"/gxhub.exchange.v1.FederationService/PullRemote":            {roles: []string{"consumer"}, note: "then this hub's invariants (own open case, usable agreement), then the home hub's"},

	"/gxhub.exchange.v1.PullBatchService/PullBatch":          {roles: []string{"consumer"}, note: "then, per entry, the invariants and the casbin policy exactly as Pull"},
	"/gxhub.exchange.v1.SubscriptionService/Subscribe":       {roles: []string{"consumer"}, note: "then the provision method and, per change, the pull use case"},
	"/gxhub.exchange.v1.SubscriptionService/RegisterWebhook": {roles: []string{"consumer"}, note: "admitted like Subscribe"},
	"/gxhub.exchange.v1.SubscriptionService/ListWebhooks":    resource("the caller's own webhooks only"),
	"/gxhub.exchange.v1.RecordService/Publish":               only("provider"),
	"/gxhub.exchange.v1.RecordService/GetRecordHistory":      signed,
	"/gxhub.exchange.v1.PullService/CreateBatch":             {roles: []string{"consumer"}, note: "then the batch-file invariants (provision method, whole-resource scope), then the casbin policy"},
	"/gxhub.exchange.v1.PullService/VerifyData":              {roles: []string{"consumer"}, note: "then the pull invariants (a verify-only requirement too), then the casbin policy"},

	"/gxhub.exchange.v1.RequirementService/FileRequirement":   only("consumer"),
	"/gxhub.exchange.v1.RequirementService/GetRequirement":    resource("consumer, provider, coordinator or auditor of the requirement"),
	"/gxhub.exchange.v1.RequirementService/ListRequirements":  signed,
	"/gxhub.exchange.v1.RequirementService/DecideRequirement": resource("the provider of the requirement (or the coordinator on escalation)"),

	// Trust store and sealed documents (issue 15).
	"/gxhub.certs.v1.SealService/Timestamp":                     signed,
	"/gxhub.certs.v1.SealService/RegisterSealedDocument":        resource("the department whose seal made the newest signature"),
	"/gxhub.certs.v1.SealService/GetSealedDocument":             signed,
	"/gxhub.certs.v1.SealService/ListSealedDocuments":           signed,
	"/gxhub.certs.v1.TrustStoreService/GetTrustStore":           signed,
	"/gxhub.certs.v1.TrustStoreService/ListTrustBundleVersions": signed,
	"/gxhub.certs.v1.TrustStoreService/PutTrustBundle":          only("coordinator"),
	"/gxhub.certs.v1.TrustStoreService/AddCRLSource":            only("coordinator"),
	"/gxhub.certs.v1.TrustStoreService/RemoveCRLSource":         only("coordinator"),
	"/gxhub.certs.v1.TrustStoreService/RefreshCRLs":             only("coordinator"),
}

// requestFor builds the request an RPC is probed with; nil means the empty message. An
// empty request is enough to reach the role check: every role-gated operation checks the
// role before it validates the request (asserted below by the refusals).
var requestFor = map[string]func(me *identity.Identity) proto.Message{
	// An issuer makes seals for its own department only.
	"/gxhub.certs.v1.SealService/MakeSeal": func(me *identity.Identity) proto.Message {
		return &certsv1.MakeSealRequest{DepartmentCode: me.Code}
	},
	// The alert stream ends once it has sent the provider's current state, so an admitted
	// call returns instead of following alerts forever.
	"/gxhub.exchange.v1.FreshnessService/FollowAlerts": func(*identity.Identity) proto.Message {
		return &exchangev1.FollowAlertsRequest{UntilCaughtUp: true}
	},
}

// TestAuthorizationMatrix calls every RPC of every gxhub service, unsigned and as a
// department holding exactly one role, and checks the outcome against authzMatrix:
// refusals are Unauthenticated (unsigned) or PermissionDenied with the declared reason and
// a message naming the department; allowed calls are never refused for authorization
// reasons (they may fail validation or find nothing: the probe requests are empty).
func TestAuthorizationMatrix(t *testing.T) {
	th := startHub(t, nil)
	ctx := context.Background()
	cc, coord := th.client(t, 0)
	roleNames := []string{"coordinator", "provider", "consumer", "issuer", "auditor"}
	roles := map[string]adminv1.Role{"coordinator": adminv1.Role_ROLE_COORDINATOR, "provider": adminv1.Role_ROLE_PROVIDER,
		"consumer": adminv1.Role_ROLE_CONSUMER, "issuer": adminv1.Role_ROLE_ISSUER, "auditor": adminv1.Role_ROLE_AUDITOR}
	ids := map[string]*identity.Identity{}
	conns := map[string]*grpc.ClientConn{"unsigned": th.rawConn(t, coord.TLSCAPEM, nil)}
	for i, name := range roleNames {
		ids[name] = th.registerRoleDepartment(t, cc, fmt.Sprintf("7700000%d", i+1), roles[name])
		conns[name] = th.rawConn(t, coord.TLSCAPEM, ids[name])
	}

	t.Run("resource owner checks", func(t *testing.T) {
		// 渝北 files a requirement on 公安局's conditional resource; departments neither
		// party to it nor coordinator/auditor may not read it, and only its provider decides.
		require.NoError(t, th.h.SeedDemoCatalog(ctx))
		yubei, err := sdk.Dial(ctx, th.identity(t, 7))
		require.NoError(t, err)
		defer yubei.Close()
		f, err := yubei.Requirements.FileRequirement(ctx, &exchangev1.FileRequirementRequest{Resource: "500000-GA-0001",
			Items: []string{"name"}, MatterCodes: []string{"500000-GJJ-0001"}, LegalDuty: "《住房公积金管理条例》"})
		require.NoError(t, err)
		id := f.GetRequirement().GetId()
		get := "/gxhub.exchange.v1.RequirementService/GetRequirement"
		decide := "/gxhub.exchange.v1.RequirementService/DecideRequirement"
		mayRead := map[string]bool{"coordinator": true, "auditor": true}
		for _, who := range roleNames {
			err := conns[who].Invoke(ctx, get, &exchangev1.GetRequirementRequest{Id: id}, &exchangev1.Requirement{})
			if mayRead[who] {
				require.NoError(t, err, "%s reads every requirement", who)
			} else {
				require.Equal(t, codes.PermissionDenied, status.Code(err), "%s: %v", who, err)
				require.Contains(t, status.Convert(err).Message(), ids[who].Code)
			}
			// Only the provider grants; nobody else, whatever its roles.
			err = conns[who].Invoke(ctx, decide, &exchangev1.DecideRequirementRequest{Id: id, Action: "grant"}, &exchangev1.DecideRequirementResponse{})
			require.Equal(t, codes.PermissionDenied, status.Code(err), "%s: %v", who, err)
			require.NotEmpty(t, sdk.Reason(err), "%v", err)
			require.Contains(t, status.Convert(err).Message(), ids[who].Code)
		}
		police := th.rawConn(t, coord.TLSCAPEM, th.identity(t, 2))
		err = police.Invoke(ctx, get, &exchangev1.GetRequirementRequest{Id: id}, &exchangev1.Requirement{})
		require.NoError(t, err, "the provider reads the requirement filed with it")
		err = police.Invoke(ctx, decide, &exchangev1.DecideRequirementRequest{Id: id, Action: "grant"}, &exchangev1.DecideRequirementResponse{})
		require.NotEqual(t, codes.PermissionDenied, status.Code(err), "the provider may decide (the workflow state may still refuse): %v", err)
		require.NotEqual(t, codes.Unauthenticated, status.Code(err), "%v", err)
	})

	methods := gxhubMethods(t)
	for m := range authzMatrix {
		require.Contains(t, methods, m, "authzMatrix names an RPC that no longer exists")
	}
	var names []string
	for m := range methods {
		names = append(names, m)
	}
	sort.Strings(names)
	for _, m := range names {
		want, ok := authzMatrix[m]
		require.True(t, ok, "RPC %s has no entry in authzMatrix: declare who may call it", m)
		in, err := protoregistry.GlobalTypes.FindMessageByName(methods[m].Input().FullName())
		require.NoError(t, err)
		out, err := protoregistry.GlobalTypes.FindMessageByName(methods[m].Output().FullName())
		require.NoError(t, err)
		call := func(who string) error {
			req := in.New().Interface()
			if build := requestFor[m]; build != nil && ids[who] != nil {
				req = build(ids[who])
			}
			return conns[who].Invoke(ctx, m, req, out.New().Interface())
		}
		t.Run(strings.TrimPrefix(m, "/gxhub."), func(t *testing.T) {
			err := call("unsigned")
			if want.public {
				require.NotEqual(t, codes.Unauthenticated, status.Code(err), "public RPC refused unsigned: %v", err)
				require.NotEqual(t, codes.PermissionDenied, status.Code(err), "%v", err)
			} else {
				require.Equal(t, codes.Unauthenticated, status.Code(err), "unsigned call must be refused: %v", err)
				require.Equal(t, reqsig.ReasonUnsigned, sdk.Reason(err), "%v", err)
			}
			for _, who := range roleNames {
				err := call(who)
				allowed := want.roles == nil || slices.Contains(want.roles, who)
				require.NotEqual(t, codes.Unimplemented, status.Code(err), "%s: the hub does not serve %s", who, m)
				require.NotEqual(t, codes.Unauthenticated, status.Code(err), "%s: signed call refused: %v", who, err)
				if allowed {
					require.NotEqual(t, codes.PermissionDenied, status.Code(err), "%s may call %s: %v", who, m, err)
					continue
				}
				reason := want.reason
				if reason == "" {
					reason = "ROLE_REQUIRED"
				}
				require.Equal(t, codes.PermissionDenied, status.Code(err), "%s must be refused %s: %v", who, m, err)
				require.Equal(t, reason, sdk.Reason(err), "%v", err)
				require.Contains(t, status.Convert(err).Message(), ids[who].Code, "the refusal names the calling department")
			}
		})
	}
}

// TestOperatorRoleMatrix calls every signed RPC as four operators of one department, one per
// D1 role, each signing with its own key: a call its role does not allow is refused with
// OPERATOR_ROLE_REQUIRED naming the operator, an allowed one never is (the department's own
// roles and the operation's checks still apply). It also checks that server.OperatorMethods
// names only RPCs that exist.
func TestOperatorRoleMatrix(t *testing.T) {
	th := startHub(t, nil)
	ctx := context.Background()
	cc, coord := th.client(t, 0)
	methods := gxhubMethods(t)
	for m := range server.OperatorMethods {
		require.Contains(t, methods, m, "server.OperatorMethods names an RPC that does not exist")
	}
	ops := map[string]*identity.Identity{}
	conns := map[string]*grpc.ClientConn{}
	for _, role := range policy.Roles {
		ops[role] = enrolOperator(t, cc, "操作员-"+role, role)
		conns[role] = th.rawConn(t, coord.TLSCAPEM, ops[role])
	}
	var names []string
	for m := range methods {
		if !authzMatrix[m].public {
			names = append(names, m)
		}
	}
	sort.Strings(names)
	for _, m := range names {
		in, err := protoregistry.GlobalTypes.FindMessageByName(methods[m].Input().FullName())
		require.NoError(t, err)
		out, err := protoregistry.GlobalTypes.FindMessageByName(methods[m].Output().FullName())
		require.NoError(t, err)
		t.Run(strings.TrimPrefix(m, "/gxhub."), func(t *testing.T) {
			for _, role := range policy.Roles {
				req := in.New().Interface()
				if build := requestFor[m]; build != nil {
					req = build(ops[role])
				}
				err := conns[role].Invoke(ctx, m, req, out.New().Interface())
				require.NotEqual(t, codes.Unauthenticated, status.Code(err), "%s: %v", role, err)
				if server.OperatorMayCall([]string{role}, m) {
					require.NotEqual(t, server.ReasonOperatorRole, sdk.Reason(err), "%s may call %s: %v", role, m, err)
					continue
				}
				require.Equal(t, codes.PermissionDenied, status.Code(err), "%s must be refused %s: %v", role, m, err)
				require.Equal(t, server.ReasonOperatorRole, sdk.Reason(err), "%v", err)
				require.Contains(t, status.Convert(err).Message(), ops[role].Operator, "the refusal names the operator")
			}
		})
	}
	// The admin role reaches everything its department may: the same as the department key.
	for _, m := range names {
		require.True(t, server.OperatorMayCall([]string{policy.RoleAdmin}, m))
	}
}
