package server

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/store"
	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/sdk/api/convert"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
)

// Catalog implements gxhub.exchange.v1.CatalogService (REQUIREMENTS A1, A10): providers
// register and change their own resources, every change a new version and an audit record;
// a change that narrows sharing while requirements are granted becomes a proposal the
// coordinator decides (exchange.ChangeControl); every registered department reads and
// searches.
type Catalog struct {
	exchangev1.UnimplementedCatalogServiceServer
	Store   store.Store
	Changes *exchange.ChangeControl
	Audit   *store.AuditWriter
	Log     *slog.Logger
	Now     func() time.Time
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
		return nil, c.refused(ctx, caller, r.Code, "register", err)
	}
	r.UpdatedAt, r.UpdatedBy = c.now().UTC().Truncate(time.Microsecond), caller.Department.Code
	if _, err := auditedWrite(ctx, c.Audit, func(ctx context.Context) (ledger.Record, error) {
		if err := c.Store.Catalog().Create(ctx, r); err != nil {
			return ledger.Record{}, err
		}
		return c.changeRecord(ctx, caller, r, "register v1"), nil
	}); err != nil {
		return nil, err
	}
	return &exchangev1.RegisterResourceResponse{Resource: ResourceToProto(r)}, nil
}

// UpdateResource stores the owning provider's change as a new version, or as a proposal
// for the coordinator when it narrows sharing of a resource with granted requirements.
func (c *Catalog) UpdateResource(ctx context.Context, req *exchangev1.UpdateResourceRequest) (*exchangev1.UpdateResourceResponse, error) {
	caller, err := RequireRole(ctx, exchange.RoleProvider)
	if err != nil {
		return nil, err
	}
	next, err := ResourceFromProto(req.GetResource())
	if err != nil {
		return nil, err
	}
	r, p, err := c.change(ctx, caller, next)
	if err != nil {
		return nil, err
	}
	return &exchangev1.UpdateResourceResponse{Resource: ResourceToProto(r), Proposal: ProposalToProto(p, c.now())}, nil
}

// WithdrawResource withdraws a resource (a new version marked withdrawn), or proposes to.
func (c *Catalog) WithdrawResource(ctx context.Context, req *exchangev1.WithdrawResourceRequest) (*exchangev1.WithdrawResourceResponse, error) {
	caller, err := RequireRole(ctx, exchange.RoleProvider)
	if err != nil {
		return nil, err
	}
	cur, err := c.Store.Catalog().Get(ctx, req.GetCode(), 0)
	if err != nil {
		return nil, err
	}
	next := *cur
	next.Items = slices.Clone(cur.Items)
	next.Withdrawn, next.Version = true, int(req.GetVersion())
	r, p, err := c.change(ctx, caller, &next)
	if err != nil {
		return nil, err
	}
	return &exchangev1.WithdrawResourceResponse{Resource: ResourceToProto(r), Proposal: ProposalToProto(p, c.now())}, nil
}

// change applies or proposes a provider's change; it returns the resource as it is now and
// the proposal, if one was made.
func (c *Catalog) change(ctx context.Context, caller *Caller, next *exchange.Resource) (*exchange.Resource, *exchange.CatalogProposal, error) {
	cur, err := c.Store.Catalog().Get(ctx, next.Code, 0)
	if err != nil {
		return nil, nil, err
	}
	ch := exchange.ResourceChange{Cur: cur, Next: next}
	if _, err := c.Store.Proposals().Pending(ctx, cur.Code); err == nil {
		ch.Pending = true
	} else if exchange.KindOf(err) != exchange.KindNotFound {
		return nil, nil, err
	}
	if ch.Granted, err = allRequirements(ctx, c.Store, store.RequirementFilter{Resource: cur.Code, State: exchange.ReqGranted}); err != nil {
		return nil, nil, err
	}
	p, err := c.Changes.Plan(ch, actor(caller), "CP-"+newID()[:16], c.now())
	if err != nil {
		return nil, nil, c.refused(ctx, caller, cur.Code, "change", err)
	}
	if p != nil {
		if _, err := auditedWrite(ctx, c.Audit, func(ctx context.Context) (ledger.Record, error) {
			if err := c.Store.Proposals().Create(ctx, p, p.Notice()); err != nil {
				return ledger.Record{}, err
			}
			return c.proposalRecord(caller, p, p.Decisions[0]), nil
		}); err != nil {
			return nil, nil, err
		}
		return cur, p, nil
	}
	next.Published, next.PublishedAt = cur.Published, cur.PublishedAt
	what := fmt.Sprintf("update v%d", next.Version)
	if next.Withdrawn {
		what = fmt.Sprintf("withdraw v%d", next.Version)
	}
	if n := exchange.Narrowing(cur, next); len(n) > 0 {
		what += " (no granted requirement): " + strings.Join(n, "; ")
	}
	if _, err := auditedWrite(ctx, c.Audit, func(ctx context.Context) (ledger.Record, error) {
		if err := c.Store.Catalog().Update(ctx, next); err != nil {
			return ledger.Record{}, err
		}
		return c.changeRecord(ctx, caller, next, what), nil
	}); err != nil {
		return nil, nil, err
	}
	return next, nil, nil
}

// changeRecord is the audit record of a catalogue change (register, update, withdraw).
func (c *Catalog) changeRecord(ctx context.Context, caller *Caller, r *exchange.Resource, what string) ledger.Record {
	digest := sm.Sum([]byte(caller.Evidence))
	if c.Log != nil {
		c.Log.InfoContext(ctx, "catalogue change", slog.String("resource", r.Code), slog.Int("version", r.Version), slog.String("by", r.UpdatedBy), slog.String("what", what))
	}
	return ledger.Record{Kind: KindCatalogChange, Time: r.UpdatedAt, Department: caller.Department.Code,
		Resource: r.Code, Outcome: ledger.OutcomeOK, Reason: what + "; share type " + string(r.ShareType), ResponseDigest: digest[:],
		RequestID: fmt.Sprintf("%s@v%d", r.Code, r.Version)}
}

// refused records a refused catalogue change (a free-text legal basis, a change of another
// provider's resource, …) and returns err: an insider's attempt leaves a trace.
func (c *Catalog) refused(ctx context.Context, caller *Caller, code, what string, err error) error {
	reason, msg := exchange.ErrorOf(err)
	if reason == "" {
		return err
	}
	digest := sm.Sum([]byte(caller.Evidence))
	auditRecord(ctx, c.Audit, ledger.Record{Kind: KindCatalogChange, Time: c.now().UTC(), Department: caller.Department.Code, //nolint:errcheck // a refusal is answered even when its record fails (logged)
		Resource: code, Outcome: ledger.OutcomeDenied, Reason: reason + ": " + what + " refused: " + msg, ResponseDigest: digest[:]})
	return err
}

// proposalRecord is the audit record of a step of a proposal.
func (c *Catalog) proposalRecord(caller *Caller, p *exchange.CatalogProposal, d exchange.ProposalDecision) ledger.Record {
	digest := sm.Sum([]byte(caller.Evidence))
	return ledger.Record{Kind: KindCatalogProposal, Time: d.At, Department: caller.Department.Code,
		Resource: p.Resource, Outcome: ledger.OutcomeOK, Reason: string(d.Action) + " → " + string(p.State) + ": " + p.Summary(),
		ResponseDigest: digest[:], RequestID: p.ID}
}

// ListProposals lists catalogue change proposals (the catalogue is readable by every
// registered department, and so are the proposals to change it).
func (c *Catalog) ListProposals(ctx context.Context, req *exchangev1.ListProposalsRequest) (*exchangev1.ListProposalsResponse, error) {
	if _, err := RequireCaller(ctx); err != nil {
		return nil, err
	}
	size, err := pageSize(req.GetPageSize())
	if err != nil {
		return nil, err
	}
	f := store.ProposalFilter{Resource: req.GetResource(), Provider: req.GetProvider(), State: exchange.ProposalState(req.GetState())}
	switch f.State {
	case "", exchange.ProposalPending, exchange.ProposalApproved, exchange.ProposalRejected, exchange.ProposalWithdrawn:
	default:
		return nil, exchange.Errorf(exchange.KindInvalid, "STATE_INVALID", "state %q is not pending, approved, rejected or withdrawn", f.State)
	}
	ps, err := c.Store.Proposals().List(ctx, f, size)
	if err != nil {
		return nil, err
	}
	resp := &exchangev1.ListProposalsResponse{}
	for _, p := range ps {
		resp.Proposals = append(resp.Proposals, ProposalToProto(p, c.now()))
	}
	return resp, nil
}

// GetProposal returns a proposal with its decisions.
func (c *Catalog) GetProposal(ctx context.Context, req *exchangev1.GetProposalRequest) (*exchangev1.CatalogProposal, error) {
	if _, err := RequireCaller(ctx); err != nil {
		return nil, err
	}
	p, err := c.Store.Proposals().Get(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	return ProposalToProto(p, c.now()), nil
}

// DecideProposal records a signed decision on a proposal; an approval stores the new
// resource version in the same transaction.
func (c *Catalog) DecideProposal(ctx context.Context, req *exchangev1.DecideProposalRequest) (*exchangev1.DecideProposalResponse, error) {
	caller, err := RequireCaller(ctx)
	if err != nil {
		return nil, err
	}
	p, err := c.Store.Proposals().Get(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	cur, err := c.Store.Catalog().Get(ctx, p.Resource, 0)
	if err != nil {
		return nil, err
	}
	from, d, apply, err := c.Changes.Decide(p, cur, actor(caller), exchange.ProposalAction(req.GetAction()), req.GetComment(), c.now())
	if err != nil {
		return nil, err
	}
	if _, err := auditedWriteAll(ctx, c.Audit, func(ctx context.Context) ([]ledger.Record, error) {
		if err := c.Store.Proposals().Decide(ctx, p, from, d, apply, p.Notice()); err != nil {
			return nil, err
		}
		recs := []ledger.Record{c.proposalRecord(caller, p, d)}
		if apply != nil {
			apply.Published, apply.PublishedAt = cur.Published, cur.PublishedAt
			recs = append(recs, c.changeRecord(ctx, caller, apply, fmt.Sprintf("update v%d approved by the coordinator (proposal %s): %s", apply.Version, p.ID, strings.Join(p.Narrowing, "; "))))
		}
		return recs, nil
	}); err != nil {
		return nil, err
	}
	if apply != nil {
		cur = apply
	}
	return &exchangev1.DecideProposalResponse{Proposal: ProposalToProto(p, c.now()), Resource: ResourceToProto(cur)}, nil
}

// ProposalToProto converts a proposal for the wire (nil for nil).
func ProposalToProto(p *exchange.CatalogProposal, now time.Time) *exchangev1.CatalogProposal {
	if p == nil {
		return nil
	}
	out := &exchangev1.CatalogProposal{Id: p.ID, Resource: p.Resource, Provider: p.Provider, BaseVersion: int32(p.BaseVersion),
		Narrowing: p.Narrowing, Affected: p.Affected, State: string(p.State), Deadline: ts(p.Deadline), Overdue: p.Overdue(now),
		CreatedAt: ts(p.CreatedAt), UpdatedAt: ts(p.UpdatedAt), AppliedVersion: int32(p.AppliedVersion), DeadlineProvisional: p.DeadlineProvisional}
	if p.Proposed != nil {
		out.Proposed = ResourceToProto(p.Proposed)
	}
	for _, d := range p.Decisions {
		out.Decisions = append(out.Decisions, &exchangev1.ProposalDecision{Seq: int32(d.Seq), Action: string(d.Action), By: d.By,
			Comment: d.Comment, At: ts(d.At), Evidence: d.Evidence, BodyDigest: d.BodyDigest})
	}
	return out
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

// listing checks what every paged listing needs: a signed caller, a page size and a page
// token of at most 64 bytes (an id or a code the hub returned).
func listing(ctx context.Context, size int32, token string) (*Caller, int, error) {
	caller, err := RequireCaller(ctx)
	if err != nil {
		return nil, 0, err
	}
	n, err := pageSize(size)
	if err != nil {
		return nil, 0, err
	}
	if len(token) > 64 {
		return nil, 0, badToken(token)
	}
	return caller, n, nil
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
		SubjectKind: string(r.SubjectKind), ShareType: string(r.ShareType), Condition: r.Condition, LegalBasis: convert.LegalBasisToProto(r.LegalBasis),
		UpdateCycle: string(r.UpdateCycle), ProvisionMethod: string(r.ProvisionMethod), ScopeRegion: r.ScopeRegion,
		FreshnessLimit: int32(r.FreshnessLimit), Version: int32(r.Version), UpdatedAt: ts(r.UpdatedAt), UpdatedBy: r.UpdatedBy,
		Published: r.Published, PublishedAt: ts(r.PublishedAt), ObjectionDays: int32(r.ObjectionDays), Withdrawn: r.Withdrawn,
	}
	if r.ScopeLevel != exchange.LevelUnspecified {
		out.ScopeLevel = r.ScopeLevel.String()
	}
	for _, it := range r.Items {
		out.Items = append(out.Items, &exchangev1.DataItem{Name: it.Name, Title: it.Title, Type: it.Type, Description: it.Description, Sensitivity: string(it.Sensitivity), Mask: string(it.MaskRule())})
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
		Condition: p.GetCondition(), LegalBasis: convert.LegalBasisFromProto(p.GetLegalBasis()), UpdateCycle: exchange.UpdateCycle(p.GetUpdateCycle()),
		ProvisionMethod: exchange.ProvisionMethod(p.GetProvisionMethod()), ScopeRegion: p.GetScopeRegion(),
		FreshnessLimit: int(p.GetFreshnessLimit()), ObjectionDays: int(p.GetObjectionDays()), Version: int(p.GetVersion()),
	}
	if p.GetScopeLevel() != "" {
		l, err := exchange.ParseLevel(p.GetScopeLevel())
		if err != nil {
			return nil, err
		}
		r.ScopeLevel = l
	}
	for _, it := range p.GetItems() {
		r.Items = append(r.Items, exchange.DataItem{Name: it.GetName(), Title: it.GetTitle(), Type: it.GetType(), Description: it.GetDescription(), Sensitivity: exchange.Sensitivity(it.GetSensitivity()), Mask: exchange.MaskRule(strings.TrimSpace(it.GetMask()))})
	}
	return r, nil
}
