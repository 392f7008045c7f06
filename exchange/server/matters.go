package server

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/store"
	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/sdk/api/convert"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
)

// Matters implements gxhub.exchange.v1.MatterService (REQUIREMENTS A7, A8): the matter
// registry the coordinator keeps, the exemptions (免于提交) and the collection of a case's
// materials (exchange.ExemptionFinder, exchange.Collector).
type Matters struct {
	exchangev1.UnimplementedMatterServiceServer
	Store      store.Store
	Exemptions *exchange.ExemptionFinder
	Collector  *exchange.Collector
	Signer     *PullSigner
	Audit      *store.AuditWriter
	SubjectKey ledger.SubjectKeyFunc
	Log        *slog.Logger
	Now        Clock
}

// DefineMatter registers a matter or stores a new version of it (coordinator).
func (s *Matters) DefineMatter(ctx context.Context, req *exchangev1.DefineMatterRequest) (*exchangev1.DefineMatterResponse, error) {
	caller, err := RequireRole(ctx, exchange.RoleCoordinator)
	if err != nil {
		return nil, err
	}
	m := convert.MatterFromProto(req.GetMatter())
	if m == nil {
		return nil, exchange.Errorf(exchange.KindInvalid, "MATTER_MISSING", "matter is required")
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	if _, err := s.Store.Departments().Get(ctx, m.Department); err != nil {
		if exchange.KindOf(err) == exchange.KindNotFound {
			return nil, exchange.Errorf(exchange.KindInvalid, "MATTER_DEPARTMENT_UNKNOWN", "matter %s: handling department %s is not registered at the hub", m.Code, m.Department)
		}
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
		m.Version = 1
	} else {
		cur, err := s.Store.Matters().Get(ctx, m.Code)
		if err != nil {
			return nil, err
		}
		if m.Version != cur.Version {
			return nil, exchange.Errorf(exchange.KindFailedPrecondition, "MATTER_VERSION_CONFLICT",
				"matter %s is at version %d but the change is based on version %d: read it and apply the change again", m.Code, cur.Version, m.Version)
		}
		m.Version = cur.Version + 1
	}
	m.UpdatedAt, m.UpdatedBy = s.Now.now().UTC().Truncate(time.Microsecond), caller.Department.Code
	digest := sm.Sum([]byte(caller.Evidence))
	if _, err := auditedWrite(ctx, s.Audit, func(ctx context.Context) (ledger.Record, error) {
		if err := s.Store.Matters().Put(ctx, m); err != nil {
			return ledger.Record{}, err
		}
		return ledger.Record{Kind: KindMatterChange, Time: m.UpdatedAt, Department: caller.Department.Code, Matter: m.Code,
			Outcome: ledger.OutcomeOK, Reason: fmt.Sprintf("matter v%d: %s, handled by %s, %d working days, %d materials; basis %s", m.Version, m.Name, m.Department, m.TimeLimit, len(m.Materials), m.LegalBasis.Citation()),
			ResponseDigest: digest[:], RequestID: fmt.Sprintf("%s@v%d", m.Code, m.Version)}, nil
	}); err != nil {
		return nil, err
	}
	return &exchangev1.DefineMatterResponse{Matter: convert.MatterToProto(m)}, nil
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
	return convert.MatterToProto(m), nil
}

// ListMatters pages through matters.
func (s *Matters) ListMatters(ctx context.Context, req *exchangev1.ListMattersRequest) (*exchangev1.ListMattersResponse, error) {
	_, size, err := listing(ctx, req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, err
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
		resp.Matters = append(resp.Matters, convert.MatterToProto(m))
	}
	return resp, nil
}

// GetExemptions answers for the calling department.
func (s *Matters) GetExemptions(ctx context.Context, req *exchangev1.GetExemptionsRequest) (*exchangev1.GetExemptionsResponse, error) {
	caller, err := RequireCaller(ctx)
	if err != nil {
		return nil, err
	}
	applicant := exchange.NormalizeSubject(req.GetApplicant())
	m, ex, err := s.Exemptions.Find(ctx, caller.Department.Code, req.GetCode(), applicant)
	if err != nil {
		return nil, err
	}
	// What the hub knows of an applicant (licences, data shared for them): audited first.
	exempt := 0
	for _, e := range ex {
		if e.Exempt {
			exempt++
		}
	}
	rec := ledger.Record{Kind: KindExemptionLookup, Time: s.Now.now().UTC(), Department: caller.Department.Code, Matter: m.Code,
		Outcome: ledger.OutcomeOK, Reason: fmt.Sprintf("exemptions of an applicant for matter %s v%d: %d of %d materials exempt", m.Code, m.Version, exempt, len(ex))}
	if s.SubjectKey != nil {
		rec.Subject = s.SubjectKey(applicant)
	}
	if _, err := auditRecord(ctx, s.Audit, rec); err != nil {
		return nil, err
	}
	kind, _ := exchange.ApplicantKind(applicant)
	resp := &exchangev1.GetExemptionsResponse{MatterCode: m.Code, MatterVersion: int32(m.Version), ApplicantKind: string(kind)}
	for _, e := range ex {
		resp.Exemptions = append(resp.Exemptions, convert.ExemptionToProto(e))
	}
	return resp, nil
}

// CollectMaterials obtains, for an open case of the caller, every material sharing or the
// e-certificate registry supplies, and records them in the case.
func (s *Matters) CollectMaterials(ctx context.Context, req *exchangev1.CollectMaterialsRequest) (*exchangev1.CollectMaterialsResponse, error) {
	caller, err := RequireCaller(ctx)
	if err != nil {
		return nil, err
	}
	out, err := s.Collector.Collect(ctx, exchange.CollectInput{Caller: caller.Department, Operator: caller.OperatorID(), CaseNumber: req.GetCaseNumber(),
		MatterCode: strings.TrimSpace(req.GetCode()), Applicant: req.GetApplicant(), FreshOnly: req.GetFreshOnly()})
	if err != nil {
		return nil, err
	}
	cs := out.Case
	resp := &exchangev1.CollectMaterialsResponse{MatterCode: cs.Matter, CaseNumber: cs.Number}
	for _, m := range out.Materials {
		cm := &exchangev1.CollectedMaterial{Exemption: convert.ExemptionToProto(m.Exemption)}
		if m.Pull != nil {
			if cm.Pull, err = s.Signer.Response(m.Pull); err != nil {
				return nil, err
			}
		}
		if e := m.ECert; e != nil {
			cm.Ecert = &exchangev1.CollectedECert{Identifier: e.Identifier, TypeCode: e.TypeCode, Holder: e.Holder, Sealed: e.Sealed,
				Digest: e.Digest, Verdict: e.Verdict, Reason: e.Reason}
			s.auditECertUse(ctx, caller, cs, e)
		}
		if m.Err != nil {
			cm.ErrorReason, cm.ErrorMessage = exchange.ErrorOf(m.Err)
			if cm.ErrorReason == "" {
				cm.ErrorReason, cm.ErrorMessage = "COLLECT_FAILED", "obtaining the material failed in the hub; it has been logged: retry the collection"
				if s.Log != nil {
					s.Log.ErrorContext(ctx, "collect materials", slog.String("case", cs.Number), slog.String("material", m.Exemption.Material.ID), slog.String("error", m.Err.Error()))
				}
			}
		}
		resp.Materials = append(resp.Materials, cm)
	}
	resp.Case = CaseToProto(cs)
	return resp, nil
}

// auditECertUse records that an e-certificate was fetched from the registry for a case.
func (s *Matters) auditECertUse(ctx context.Context, caller *Caller, cs *exchange.Case, e *exchange.FetchedECert) {
	rec := ledger.Record{Kind: KindCase, Time: s.Now.now().UTC(), Department: caller.Department.Code, Resource: "ecert:" + e.Identifier,
		Matter: cs.Matter, Case: cs.Number, Outcome: ledger.OutcomeOK, Reason: "collect e-certificate " + e.Identifier + ": " + e.Verdict, RequestID: cs.Number}
	if !e.Valid {
		rec.Outcome, rec.Reason = ledger.OutcomeFailed, rec.Reason+": "+e.Reason
	}
	if s.SubjectKey != nil {
		rec.Subject = s.SubjectKey(cs.Applicant)
	}
	auditRecord(ctx, s.Audit, rec) //nolint:errcheck // logged by the writer
}

// ConsumerRequirements lists a consumer's requirements for a resource from the store
// (exchange.ConsumerRequirements).
type ConsumerRequirements struct{ Store store.Store }

// ForConsumer implements exchange.ConsumerRequirements.
func (c ConsumerRequirements) ForConsumer(ctx context.Context, consumer, resource string) ([]*exchange.Requirement, error) {
	return allRequirements(ctx, c.Store, store.RequirementFilter{Consumer: consumer, Resource: resource})
}

// allRequirements lists every requirement matching f, page by page.
func allRequirements(ctx context.Context, s store.Store, f store.RequirementFilter) ([]*exchange.Requirement, error) {
	var out []*exchange.Requirement
	after := ""
	for {
		rs, err := s.Requirements().List(ctx, f, after, 1000)
		if err != nil {
			return nil, err
		}
		out = append(out, rs...)
		if len(rs) < 1000 {
			return out, nil
		}
		after = rs[len(rs)-1].ID
	}
}
