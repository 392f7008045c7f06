package server

import (
	"context"
	"crypto/ecdsa"
	"log/slog"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/store"
	"github.com/gxhub/gxhub/ledger"
	adminv1 "github.com/gxhub/gxhub/sdk/api/admin/v1"
)

// DepartmentIssuer issues department signing certificates (the hub's SM2 CA).
type DepartmentIssuer interface {
	// IssueDepartment certifies pub for d and returns the certificate DER, its hex serial
	// and the PEM chain of issuing CAs up to the root.
	IssueDepartment(pub *ecdsa.PublicKey, d *exchange.Department, now time.Time) (certDER []byte, serial string, chainPEM string, err error)
}

// Admin implements gxhub.admin.v1.AdminService.
type Admin struct {
	adminv1.UnimplementedAdminServiceServer
	Store  store.Store
	Issuer DepartmentIssuer
	Auth   *Authenticator
	Audit  *store.AuditWriter // every registration is an audited write
	Log    *slog.Logger
	Now    func() time.Time
}

func (a *Admin) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// WhoAmI returns the department that signed the request.
func (a *Admin) WhoAmI(ctx context.Context, _ *adminv1.WhoAmIRequest) (*adminv1.WhoAmIResponse, error) {
	c, err := RequireCaller(ctx)
	if err != nil {
		return nil, err
	}
	serial := c.Department.CertSerial
	if c.Operator != nil {
		serial = c.Operator.Serial // the operator's own certificate signed
	}
	return &adminv1.WhoAmIResponse{Department: DepartmentToProto(c.Department), CertificateSerial: serial}, nil
}

// GetDepartment returns one registered department.
func (a *Admin) GetDepartment(ctx context.Context, req *adminv1.GetDepartmentRequest) (*adminv1.Department, error) {
	if _, err := RequireCaller(ctx); err != nil {
		return nil, err
	}
	if err := exchange.ValidateUSCC(req.GetCode()); err != nil {
		return nil, exchange.Wrap(exchange.KindInvalid, "DEPARTMENT_CODE_INVALID", err, "department code %q is not a valid 统一社会信用代码: %v", req.GetCode(), err)
	}
	d, err := a.Store.Departments().Get(ctx, req.GetCode())
	if err != nil {
		return nil, err
	}
	return a.withCertState(ctx, DepartmentToProto(d))
}

// ListDepartments pages through the registry in code order.
func (a *Admin) ListDepartments(ctx context.Context, req *adminv1.ListDepartmentsRequest) (*adminv1.ListDepartmentsResponse, error) {
	if _, err := RequireCaller(ctx); err != nil {
		return nil, err
	}
	size := int(req.GetPageSize())
	switch {
	case size == 0:
		size = 100
	case size < 0 || size > 1000:
		return nil, exchange.Errorf(exchange.KindInvalid, "PAGE_SIZE_INVALID", "page_size must be between 1 and 1000 (0 means 100), got %d", size)
	}
	if req.GetRegion() != "" && len(req.GetRegion()) != 6 {
		return nil, exchange.Errorf(exchange.KindInvalid, "REGION_INVALID", "region filter %q must be a 6-digit 行政区划代码", req.GetRegion())
	}
	if tok := req.GetPageToken(); tok != "" {
		if err := exchange.ValidateUSCC(tok); err != nil {
			return nil, exchange.Errorf(exchange.KindInvalid, "PAGE_TOKEN_INVALID", "page_token %q is not one this hub returned: pass next_page_token from the previous page", tok)
		}
	}
	level, err := levelFromProto(req.GetLevel(), true)
	if err != nil {
		return nil, err
	}
	// One more than the page tells whether another page follows; the store pages at most
	// 1000, so a full page of 1000 always gets a next token (possibly to an empty page).
	fetch := min(size+1, 1000)
	ds, err := a.Store.Departments().List(ctx, store.DepartmentFilter{Region: req.GetRegion(), Level: level}, req.GetPageToken(), fetch)
	if err != nil {
		return nil, err
	}
	resp := &adminv1.ListDepartmentsResponse{}
	if len(ds) > size || (fetch == size && len(ds) == size) {
		ds = ds[:size]
		resp.NextPageToken = ds[size-1].Code
	}
	for _, d := range ds {
		resp.Departments = append(resp.Departments, DepartmentToProto(d))
	}
	return resp, nil
}

// RegisterDepartment lets a coordinator register a department: the hub's CA certifies the
// department's own SM2 public key (the private key never leaves the department).
func (a *Admin) RegisterDepartment(ctx context.Context, req *adminv1.RegisterDepartmentRequest) (*adminv1.RegisterDepartmentResponse, error) {
	caller, err := RequireRole(ctx, exchange.RoleCoordinator)
	if err != nil {
		return nil, err
	}
	d, err := DepartmentFromProto(req.GetDepartment())
	if err != nil {
		return nil, err
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	if strings.TrimSpace(req.GetPublicKeyPem()) == "" {
		return nil, exchange.Errorf(exchange.KindInvalid, "PUBLIC_KEY_MISSING", "public_key_pem is required: the department's SM2 public key in PEM (gxctl department register generates the key pair locally)")
	}
	pub, err := sm.ParsePublicKeyPEM([]byte(req.GetPublicKeyPem()))
	if err != nil {
		return nil, exchange.Wrap(exchange.KindInvalid, "PUBLIC_KEY_INVALID", err, "public_key_pem is not an SM2 public key: %v", err)
	}
	if _, err := a.Store.Departments().Get(ctx, d.Code); err == nil {
		return nil, exchange.Errorf(exchange.KindAlreadyExists, "DEPARTMENT_EXISTS", "department %s is already registered", d.Code)
	} else if exchange.KindOf(err) != exchange.KindNotFound {
		return nil, err
	}
	now := a.now()
	der, serial, chain, err := a.Issuer.IssueDepartment(pub, d, now)
	if err != nil {
		return nil, err
	}
	d.Certificate, d.CertSerial, d.RegisteredAt = der, serial, now.UTC().Truncate(time.Microsecond)
	digest := sm.Sum(der)
	if _, err := auditedWrite(ctx, a.Audit, func(ctx context.Context) (ledger.Record, error) {
		if err := a.Store.Departments().Create(ctx, d); err != nil {
			return ledger.Record{}, err
		}
		return ledger.Record{Kind: KindDepartmentRegister, Time: now, Department: caller.Department.Code,
			Resource: d.Code, Outcome: ledger.OutcomeOK, Reason: "certificate " + serial, ResponseDigest: digest[:]}, nil
	}); err != nil {
		return nil, err
	}
	if a.Log != nil {
		a.Log.InfoContext(ctx, "department registered", slog.String("code", d.Code), slog.String("by", caller.Department.Code), slog.String("serial", serial))
	}
	return &adminv1.RegisterDepartmentResponse{
		Department:     DepartmentToProto(d),
		CertificatePem: string(pemCert(der)),
		CaChainPem:     chain,
	}, nil
}

// KindDepartmentRegister is the audit kind of a department registration.
const KindDepartmentRegister ledger.Kind = "department.register"

// DepartmentToProto converts a department for the wire.
func DepartmentToProto(d *exchange.Department) *adminv1.Department {
	out := &adminv1.Department{
		Code:              d.Code,
		Name:              d.Name,
		Level:             adminv1.Level(d.Level),
		Region:            d.Region,
		CertificateSerial: d.CertSerial,
	}
	if !d.RegisteredAt.IsZero() {
		out.RegisteredAt = timestamppb.New(d.RegisteredAt)
	}
	for _, r := range d.Roles {
		out.Roles = append(out.Roles, roleToProto[r])
	}
	return out
}

// withCertState fills the department's certificate_state from the store.
func (a *Admin) withCertState(ctx context.Context, p *adminv1.Department) (*adminv1.Department, error) {
	st, err := a.Store.CertStatuses().Get(ctx, p.GetCertificateSerial())
	if err != nil {
		return nil, err
	}
	p.CertificateState = string(st.State)
	return p, nil
}

var roleToProto = map[exchange.Role]adminv1.Role{
	exchange.RoleCoordinator: adminv1.Role_ROLE_COORDINATOR,
	exchange.RoleProvider:    adminv1.Role_ROLE_PROVIDER,
	exchange.RoleConsumer:    adminv1.Role_ROLE_CONSUMER,
	exchange.RoleIssuer:      adminv1.Role_ROLE_ISSUER,
	exchange.RoleAuditor:     adminv1.Role_ROLE_AUDITOR,
}

func levelFromProto(l adminv1.Level, allowUnspecified bool) (exchange.Level, error) {
	if l == adminv1.Level_LEVEL_UNSPECIFIED && allowUnspecified {
		return exchange.LevelUnspecified, nil
	}
	if l <= adminv1.Level_LEVEL_UNSPECIFIED || l > adminv1.Level_LEVEL_TOWNSHIP {
		return 0, exchange.Errorf(exchange.KindInvalid, "LEVEL_INVALID", "level must be one of LEVEL_NATIONAL, LEVEL_PROVINCIAL, LEVEL_MUNICIPAL, LEVEL_COUNTY, LEVEL_TOWNSHIP")
	}
	return exchange.Level(l), nil
}

// DepartmentFromProto converts and checks the wire form (certificate fields are ignored:
// the hub issues them).
func DepartmentFromProto(p *adminv1.Department) (*exchange.Department, error) {
	if p == nil {
		return nil, exchange.Errorf(exchange.KindInvalid, "DEPARTMENT_MISSING", "department is required")
	}
	level, err := levelFromProto(p.GetLevel(), false)
	if err != nil {
		return nil, err
	}
	d := &exchange.Department{Code: strings.TrimSpace(p.GetCode()), Name: strings.TrimSpace(p.GetName()), Level: level, Region: p.GetRegion()}
	for _, r := range p.GetRoles() {
		found := false
		for dr, pr := range roleToProto {
			if pr == r {
				d.Roles = append(d.Roles, dr)
				found = true
			}
		}
		if !found {
			return nil, exchange.Errorf(exchange.KindInvalid, "ROLE_INVALID", "role %v is not one of ROLE_COORDINATOR, ROLE_PROVIDER, ROLE_CONSUMER, ROLE_ISSUER, ROLE_AUDITOR", r)
		}
	}
	return d, nil
}
