package server

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/store"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
)

// Matters implements gxhub.exchange.v1.MatterService (REQUIREMENTS A7).
type Matters struct {
	exchangev1.UnimplementedMatterServiceServer
	Store store.Store
	// ECertType reports whether an e-certificate type code is in the hub's licence
	// catalogue (nil: none is).
	ECertType func(ctx context.Context, code string) bool
	// Puller pulls the materials sharing supplies (CollectMaterials).
	Puller Puller
	Log    *slog.Logger
	Now    func() time.Time
}

func (s *Matters) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// DefineMatter creates a matter or stores a new version of it.
func (s *Matters) DefineMatter(ctx context.Context, req *exchangev1.DefineMatterRequest) (*exchangev1.DefineMatterResponse, error) {
	caller, err := RequireCaller(ctx)
	if err != nil {
		return nil, err
	}
	me := caller.Department
	if !me.HasRole(exchange.RoleCoordinator) && !me.HasRole(exchange.RoleConsumer) {
		return nil, exchange.Errorf(exchange.KindPermissionDenied, "ROLE_REQUIRED",
			"department %s (%s) needs the consumer or coordinator role to define matters", me.Code, me.Name)
	}
	m := MatterFromProto(req.GetMatter())
	if m == nil {
		return nil, exchange.Errorf(exchange.KindInvalid, "MATTER_MISSING", "matter is required")
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	for _, mt := range m.Materials {
		if mt.Resource == "" {
			continue
		}
		res, err := s.Store.Catalog().Get(ctx, mt.Resource, 0)
		if err != nil {
			if exchange.KindOf(err) == exchange.KindNotFound {
				return nil, exchange.Errorf(exchange.KindInvalid, "MATERIAL_RESOURCE_UNKNOWN", "material %q names resource %s, which is not in the catalogue", mt.ID, mt.Resource)
			}
			return nil, err
		}
		for _, it := range mt.Items {
			if _, ok := res.Item(it); !ok {
				return nil, exchange.Errorf(exchange.KindInvalid, "DATA_ITEM_UNKNOWN", "material %q: resource %s has no data item %q", mt.ID, res.Code, it)
			}
		}
	}
	if m.Version == 0 {
		m.Department, m.Version = me.Code, 1
	} else {
		cur, err := s.Store.Matters().Get(ctx, m.Code)
		if err != nil {
			return nil, err
		}
		if cur.Department != me.Code && !me.HasRole(exchange.RoleCoordinator) {
			return nil, exchange.Errorf(exchange.KindPermissionDenied, "NOT_MATTER_OWNER",
				"matter %s was defined by %s: only that department or a coordinator may change it", m.Code, cur.Department)
		}
		if m.Version != cur.Version {
			return nil, exchange.Errorf(exchange.KindFailedPrecondition, "MATTER_VERSION_CONFLICT",
				"matter %s is at version %d but the change is based on version %d: read it and apply the change again", m.Code, cur.Version, m.Version)
		}
		m.Department, m.Version = cur.Department, cur.Version+1
	}
	m.UpdatedAt, m.UpdatedBy = s.now().UTC().Truncate(time.Microsecond), me.Code
	if err := s.Store.Matters().Put(ctx, m); err != nil {
		return nil, err
	}
	if s.Log != nil {
		s.Log.InfoContext(ctx, "matter defined", slog.String("matter", m.Code), slog.Int("version", m.Version), slog.String("by", me.Code))
	}
	return &exchangev1.DefineMatterResponse{Matter: MatterToProto(m)}, nil
}

// GetMatter returns the current version of a matter.
func (s *Matters) GetMatter(ctx context.Context, req *exchangev1.GetMatterRequest) (*exchangev1.Matter, error) {
	if _, err := RequireCaller(ctx); err != nil {
		return nil, err
	}
	m, err := s.Store.Matters().Get(ctx, req.GetCode())
	if err != nil {
		return nil, err
	}
	return MatterToProto(m), nil
}

// ListMatters pages through matters.
func (s *Matters) ListMatters(ctx context.Context, req *exchangev1.ListMattersRequest) (*exchangev1.ListMattersResponse, error) {
	if _, err := RequireCaller(ctx); err != nil {
		return nil, err
	}
	size, err := pageSize(req.GetPageSize())
	if err != nil {
		return nil, err
	}
	if len(req.GetPageToken()) > 64 {
		return nil, badToken(req.GetPageToken())
	}
	ms, err := s.Store.Matters().List(ctx, req.GetDepartment(), req.GetPageToken(), min(size+1, 1000))
	if err != nil {
		return nil, err
	}
	resp := &exchangev1.ListMattersResponse{}
	if len(ms) > size {
		ms = ms[:size]
		resp.NextPageToken = ms[size-1].Code
	}
	for _, m := range ms {
		resp.Matters = append(resp.Matters, MatterToProto(m))
	}
	return resp, nil
}

// Exemptions answers, for consumer (the department handling the case), which materials of
// the matter must not be demanded from the applicant. It is the hook for fetching the
// materials for a case: every exemption with Source sharing names the granted requirement
// to pull Material.Items under, for the matter code and the applicant as subject.
func (s *Matters) Exemptions(ctx context.Context, consumer, matterCode, applicant string) (*exchange.Matter, []exchange.Exemption, error) {
	m, err := s.Store.Matters().Get(ctx, matterCode)
	if err != nil {
		return nil, nil, err
	}
	q := exchange.ExemptionQuery{Matter: m, Applicant: applicant, Consumer: consumer, Resources: map[string]*exchange.Resource{}}
	if s.ECertType != nil {
		q.ECertType = func(code string) bool { return s.ECertType(ctx, code) }
	}
	for _, mt := range m.Materials {
		if mt.Resource == "" || q.Resources[mt.Resource] != nil {
			continue
		}
		res, err := s.Store.Catalog().Get(ctx, mt.Resource, 0)
		if exchange.KindOf(err) == exchange.KindNotFound {
			continue
		} else if err != nil {
			return nil, nil, err
		}
		q.Resources[res.Code] = res
		after := ""
		for {
			rs, err := s.Store.Requirements().List(ctx, store.RequirementFilter{Consumer: consumer, Resource: res.Code}, after, 1000)
			if err != nil {
				return nil, nil, err
			}
			q.Requirements = append(q.Requirements, rs...)
			if len(rs) < 1000 {
				break
			}
			after = rs[len(rs)-1].ID
		}
	}
	ex, err := exchange.Exemptions(q)
	if err != nil {
		return nil, nil, err
	}
	return m, ex, nil
}

// GetExemptions answers for the calling department.
func (s *Matters) GetExemptions(ctx context.Context, req *exchangev1.GetExemptionsRequest) (*exchangev1.GetExemptionsResponse, error) {
	caller, err := RequireCaller(ctx)
	if err != nil {
		return nil, err
	}
	applicant := strings.ToUpper(strings.TrimSpace(req.GetApplicant()))
	m, ex, err := s.Exemptions(ctx, caller.Department.Code, req.GetCode(), applicant)
	if err != nil {
		return nil, err
	}
	kind, _ := exchange.ApplicantKind(applicant)
	resp := &exchangev1.GetExemptionsResponse{MatterCode: m.Code, MatterVersion: int32(m.Version), ApplicantKind: string(kind)}
	for _, e := range ex {
		resp.Exemptions = append(resp.Exemptions, &exchangev1.Exemption{
			Material: materialToProto(e.Material), Exempt: e.Exempt, Source: string(e.Source),
			Requirement: e.Requirement, Provider: e.Provider, Reason: e.Reason,
		})
	}
	return resp, nil
}

// Puller runs one pull for the calling department (the PullService implementation).
type Puller interface {
	Pull(ctx context.Context, req *exchangev1.PullRequest) (*exchangev1.PullResponse, error)
}

// CollectMaterials answers the exemptions and pulls, for the case, every material that
// sharing supplies — each through the ordinary pull path (policy, signature, audit).
func (s *Matters) CollectMaterials(ctx context.Context, req *exchangev1.CollectMaterialsRequest) (*exchangev1.CollectMaterialsResponse, error) {
	caller, err := RequireCaller(ctx)
	if err != nil {
		return nil, err
	}
	if s.Puller == nil {
		return nil, exchange.Errorf(exchange.KindFailedPrecondition, "PULLS_UNAVAILABLE", "this hub has no pull service configured")
	}
	caseNo := strings.TrimSpace(req.GetCaseNumber())
	if caseNo == "" {
		return nil, exchange.Errorf(exchange.KindInvalid, "CASE_NUMBER_MISSING",
			"case_number (办件编码) is required: materials are collected for one case and every pull is bound to it")
	}
	applicant := strings.ToUpper(strings.TrimSpace(req.GetApplicant()))
	m, ex, err := s.Exemptions(ctx, caller.Department.Code, req.GetCode(), applicant)
	if err != nil {
		return nil, err
	}
	resp := &exchangev1.CollectMaterialsResponse{MatterCode: m.Code, CaseNumber: caseNo}
	for _, e := range ex {
		cm := &exchangev1.CollectedMaterial{Exemption: &exchangev1.Exemption{
			Material: materialToProto(e.Material), Exempt: e.Exempt, Source: string(e.Source),
			Requirement: e.Requirement, Provider: e.Provider, Reason: e.Reason,
		}}
		if e.Source == exchange.SourceSharing {
			pr, err := s.Puller.Pull(ctx, &exchangev1.PullRequest{
				RequirementId: e.Requirement, MatterCode: m.Code, CaseNumber: caseNo,
				Subjects: []string{applicant}, Items: e.Material.Items, FreshOnly: req.GetFreshOnly(),
			})
			if err != nil {
				var de *exchange.Error
				if errors.As(err, &de) && de.Kind != exchange.KindInternal {
					cm.ErrorReason, cm.ErrorMessage = de.Reason, de.Error()
				} else {
					cm.ErrorReason, cm.ErrorMessage = Reason(err), "the pull failed; retry the collection"
					if cm.ErrorReason == "" {
						cm.ErrorReason = "PULL_FAILED"
					}
					if s.Log != nil {
						s.Log.ErrorContext(ctx, "collect materials: pull failed", slog.String("material", e.Material.ID), slog.String("error", err.Error()))
					}
				}
			} else {
				cm.Pull = pr
			}
		}
		resp.Materials = append(resp.Materials, cm)
	}
	return resp, nil
}

func materialToProto(mt exchange.Material) *exchangev1.Material {
	return &exchangev1.Material{Id: mt.ID, Name: mt.Name, Resource: mt.Resource, Items: mt.Items, EcertType: mt.ECertType}
}

// MatterToProto converts a matter for the wire.
func MatterToProto(m *exchange.Matter) *exchangev1.Matter {
	out := &exchangev1.Matter{Code: m.Code, Name: m.Name, Department: m.Department, Version: int32(m.Version), UpdatedAt: ts(m.UpdatedAt), UpdatedBy: m.UpdatedBy}
	for _, mt := range m.Materials {
		out.Materials = append(out.Materials, materialToProto(mt))
	}
	return out
}

// MatterFromProto converts the wire form (nil for nil).
func MatterFromProto(p *exchangev1.Matter) *exchange.Matter {
	if p == nil {
		return nil
	}
	m := &exchange.Matter{Code: strings.TrimSpace(p.GetCode()), Name: strings.TrimSpace(p.GetName()), Version: int(p.GetVersion())}
	for _, mt := range p.GetMaterials() {
		m.Materials = append(m.Materials, exchange.Material{ID: mt.GetId(), Name: strings.TrimSpace(mt.GetName()), Resource: mt.GetResource(), Items: mt.GetItems(), ECertType: mt.GetEcertType()})
	}
	return m
}
