package server

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/store"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
)

// Catalog implements gxhub.exchange.v1.CatalogService (REQUIREMENTS A1): providers
// register and change their own resources, every change a new version; every registered
// department reads and searches.
type Catalog struct {
	exchangev1.UnimplementedCatalogServiceServer
	Store store.Store
	Log   *slog.Logger
	Now   func() time.Time
}

func (c *Catalog) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// RegisterResource stores a new resource as version 1 with the caller as provider.
func (c *Catalog) RegisterResource(ctx context.Context, req *exchangev1.RegisterResourceRequest) (*exchangev1.RegisterResourceResponse, error) {
	caller, err := RequireRole(ctx, exchange.RoleProvider)
	if err != nil {
		return nil, err
	}
	r, err := ResourceFromProto(req.GetResource())
	if err != nil {
		return nil, err
	}
	if r.Provider != "" && r.Provider != caller.Department.Code {
		return nil, exchange.Errorf(exchange.KindPermissionDenied, "NOT_RESOURCE_PROVIDER",
			"department %s cannot register a resource for provider %s: a provider registers only its own resources (leave provider empty)", caller.Department.Code, r.Provider)
	}
	r.Provider = caller.Department.Code
	if err := r.Validate(); err != nil {
		return nil, err
	}
	r.UpdatedAt, r.UpdatedBy = c.now().UTC().Truncate(time.Microsecond), caller.Department.Code
	if err := c.Store.Catalog().Create(ctx, r); err != nil {
		return nil, err
	}
	c.log(ctx, "resource registered", r)
	return &exchangev1.RegisterResourceResponse{Resource: ResourceToProto(r)}, nil
}

// UpdateResource stores the owning provider's change as a new version.
func (c *Catalog) UpdateResource(ctx context.Context, req *exchangev1.UpdateResourceRequest) (*exchangev1.UpdateResourceResponse, error) {
	caller, err := RequireRole(ctx, exchange.RoleProvider)
	if err != nil {
		return nil, err
	}
	r, err := ResourceFromProto(req.GetResource())
	if err != nil {
		return nil, err
	}
	cur, err := c.Store.Catalog().Get(ctx, r.Code, 0)
	if err != nil {
		return nil, err
	}
	if cur.Provider != caller.Department.Code {
		return nil, exchange.Errorf(exchange.KindPermissionDenied, "NOT_RESOURCE_PROVIDER",
			"resource %s belongs to provider %s: only its provider may change it (department %s is not)", r.Code, cur.Provider, caller.Department.Code)
	}
	if r.Provider != "" && r.Provider != cur.Provider {
		return nil, exchange.Errorf(exchange.KindFailedPrecondition, "RESOURCE_PROVIDER_FIXED", "the provider of resource %s cannot change", r.Code)
	}
	if r.Version != cur.Version {
		return nil, exchange.Errorf(exchange.KindFailedPrecondition, "RESOURCE_VERSION_CONFLICT",
			"resource %s is at version %d but the change is based on version %d: read the current version and apply the change again", r.Code, cur.Version, r.Version)
	}
	r.Provider = cur.Provider
	if err := r.Validate(); err != nil {
		return nil, err
	}
	r.Version++
	r.UpdatedAt, r.UpdatedBy = c.now().UTC().Truncate(time.Microsecond), caller.Department.Code
	if err := c.Store.Catalog().Update(ctx, r); err != nil {
		return nil, err
	}
	r.Published, r.PublishedAt = cur.Published, cur.PublishedAt
	c.log(ctx, "resource changed", r)
	return &exchangev1.UpdateResourceResponse{Resource: ResourceToProto(r)}, nil
}

func (c *Catalog) log(ctx context.Context, msg string, r *exchange.Resource) {
	if c.Log != nil {
		c.Log.InfoContext(ctx, msg, slog.String("resource", r.Code), slog.Int("version", r.Version), slog.String("by", r.UpdatedBy))
	}
}

// GetResource returns the current or an earlier version.
func (c *Catalog) GetResource(ctx context.Context, req *exchangev1.GetResourceRequest) (*exchangev1.Resource, error) {
	if _, err := RequireCaller(ctx); err != nil {
		return nil, err
	}
	if req.GetVersion() < 0 {
		return nil, exchange.Errorf(exchange.KindInvalid, "VERSION_INVALID", "version must be 0 (current) or a version number, got %d", req.GetVersion())
	}
	r, err := c.Store.Catalog().Get(ctx, req.GetCode(), int(req.GetVersion()))
	if err != nil {
		return nil, err
	}
	return ResourceToProto(r), nil
}

// pageSize checks a requested page size (0 means 100).
func pageSize(n int32) (int, error) {
	switch {
	case n == 0:
		return 100, nil
	case n < 0 || n > 1000:
		return 0, exchange.Errorf(exchange.KindInvalid, "PAGE_SIZE_INVALID", "page_size must be between 1 and 1000 (0 means 100), got %d", n)
	}
	return int(n), nil
}

func badToken(tok string) error {
	return exchange.Errorf(exchange.KindInvalid, "PAGE_TOKEN_INVALID", "page_token %q is not one this hub returned: pass next_page_token from the previous page", tok)
}

// ListResourceVersions pages through a resource's history.
func (c *Catalog) ListResourceVersions(ctx context.Context, req *exchangev1.ListResourceVersionsRequest) (*exchangev1.ListResourceVersionsResponse, error) {
	if _, err := RequireCaller(ctx); err != nil {
		return nil, err
	}
	size, err := pageSize(req.GetPageSize())
	if err != nil {
		return nil, err
	}
	after := 0
	if tok := req.GetPageToken(); tok != "" {
		if after, err = strconv.Atoi(tok); err != nil || after < 1 {
			return nil, badToken(tok)
		}
	}
	rs, err := c.Store.Catalog().History(ctx, req.GetCode(), after, min(size+1, 1000))
	if err != nil {
		return nil, err
	}
	resp := &exchangev1.ListResourceVersionsResponse{}
	if len(rs) > size {
		rs = rs[:size]
		resp.NextPageToken = strconv.Itoa(rs[size-1].Version)
	}
	for _, r := range rs {
		resp.Versions = append(resp.Versions, ResourceToProto(r))
	}
	return resp, nil
}

// SearchResources searches current versions. Every registered department may search.
func (c *Catalog) SearchResources(ctx context.Context, req *exchangev1.SearchResourcesRequest) (*exchangev1.SearchResourcesResponse, error) {
	if _, err := RequireCaller(ctx); err != nil {
		return nil, err
	}
	size, err := pageSize(req.GetPageSize())
	if err != nil {
		return nil, err
	}
	f := store.ResourceFilter{Text: strings.TrimSpace(req.GetQuery()), Provider: req.GetProvider(), Item: strings.TrimSpace(req.GetItem()), ShareType: exchange.ShareType(req.GetShareType())}
	switch f.ShareType {
	case "", exchange.ShareUnconditional, exchange.ShareConditional, exchange.ShareNotShared:
	default:
		return nil, exchange.Errorf(exchange.KindInvalid, "SHARE_TYPE_INVALID", "share_type filter must be unconditional, conditional or not_shared")
	}
	if len(f.Text) > 200 || len(f.Item) > 200 {
		return nil, exchange.Errorf(exchange.KindInvalid, "QUERY_TOO_LONG", "search terms are limited to 200 bytes")
	}
	if len(req.GetPageToken()) > 64 {
		return nil, badToken(req.GetPageToken())
	}
	rs, err := c.Store.Catalog().Search(ctx, f, req.GetPageToken(), min(size+1, 1000))
	if err != nil {
		return nil, err
	}
	resp := &exchangev1.SearchResourcesResponse{}
	if len(rs) > size {
		rs = rs[:size]
		resp.NextPageToken = rs[size-1].Code
	}
	for _, r := range rs {
		resp.Resources = append(resp.Resources, ResourceToProto(r))
	}
	return resp, nil
}

func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// ResourceToProto converts a resource for the wire.
func ResourceToProto(r *exchange.Resource) *exchangev1.Resource {
	out := &exchangev1.Resource{
		Code: r.Code, Name: r.Name, Provider: r.Provider, Description: r.Description,
		SubjectKind: string(r.SubjectKind), ShareType: string(r.ShareType), Condition: r.Condition, LegalBasis: r.LegalBasis,
		UpdateCycle: string(r.UpdateCycle), ProvisionMethod: string(r.ProvisionMethod), ScopeRegion: r.ScopeRegion,
		FreshnessLimit: int32(r.FreshnessLimit), Version: int32(r.Version), UpdatedAt: ts(r.UpdatedAt), UpdatedBy: r.UpdatedBy,
		Published: r.Published, PublishedAt: ts(r.PublishedAt),
	}
	if r.ScopeLevel != exchange.LevelUnspecified {
		out.ScopeLevel = r.ScopeLevel.String()
	}
	for _, it := range r.Items {
		out.Items = append(out.Items, &exchangev1.DataItem{Name: it.Name, Title: it.Title, Type: it.Type, Description: it.Description, Sensitivity: string(it.Sensitivity)})
	}
	return out
}

// ResourceFromProto converts the wire form (hub-set fields other than version are ignored).
func ResourceFromProto(p *exchangev1.Resource) (*exchange.Resource, error) {
	if p == nil {
		return nil, exchange.Errorf(exchange.KindInvalid, "RESOURCE_MISSING", "resource is required")
	}
	r := &exchange.Resource{
		Code: strings.TrimSpace(p.GetCode()), Name: strings.TrimSpace(p.GetName()), Provider: p.GetProvider(), Description: p.GetDescription(),
		SubjectKind: exchange.SubjectKind(p.GetSubjectKind()), ShareType: exchange.ShareType(p.GetShareType()),
		Condition: p.GetCondition(), LegalBasis: p.GetLegalBasis(), UpdateCycle: exchange.UpdateCycle(p.GetUpdateCycle()),
		ProvisionMethod: exchange.ProvisionMethod(p.GetProvisionMethod()), ScopeRegion: p.GetScopeRegion(),
		FreshnessLimit: int(p.GetFreshnessLimit()), Version: int(p.GetVersion()),
	}
	if p.GetScopeLevel() != "" {
		l, err := exchange.ParseLevel(p.GetScopeLevel())
		if err != nil {
			return nil, err
		}
		r.ScopeLevel = l
	}
	for _, it := range p.GetItems() {
		r.Items = append(r.Items, exchange.DataItem{Name: it.GetName(), Title: it.GetTitle(), Type: it.GetType(), Description: it.GetDescription(), Sensitivity: exchange.Sensitivity(it.GetSensitivity())})
	}
	return r, nil
}
