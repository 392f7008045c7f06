package exchange

import (
	"context"
	"encoding/hex"
	"errors"
	"strings"
	"time"
)

// Ports of exemptions and collection.
type (
	// ConsumerRequirements lists a consumer's requirements (any state) for a resource.
	ConsumerRequirements interface {
		ForConsumer(ctx context.Context, consumer, resource string) ([]*Requirement, error)
	}
	// ECertRegistry answers from the e-certificate registry: an active e-certificate of a
	// type held by a holder (identifier, or "" and why not), and a registered certificate
	// fetched and verified (seal, chain, registry status).
	ECertRegistry interface {
		HeldECert(ctx context.Context, holder, typeCode string) (identifier, why string, err error)
		FetchECert(ctx context.Context, identifier string) (FetchedECert, error)
	}
	// CaseMaterials records, in a case, the materials obtained without the applicant.
	CaseMaterials interface {
		AddMaterials(ctx context.Context, number string, ms []CaseMaterial) error
	}
)

// FetchedECert is an e-certificate fetched from the registry and verified for a case.
type FetchedECert struct {
	Identifier string
	TypeCode   string
	Holder     string
	Sealed     string // the issuer's sealed compact form
	Digest     string // hex SM3 of Sealed
	Verdict    string // valid, intact, invalid, … (verification report verdict)
	Valid      bool   // every check passed
	Reason     string // the first check that failed, when not valid
}

// Exemptions answers (A7) which materials of a registered matter a consumer must not demand
// from an applicant, and how each can be obtained instead.
type ExemptionFinder struct {
	Matters      MatterReader
	Catalog      ResourceReader
	Requirements ConsumerRequirements
	ECerts       ECertRegistry // nil: no e-certificate registry
}

// Find answers for consumer, matter code and applicant.
func (x *ExemptionFinder) Find(ctx context.Context, consumer, matterCode, applicant string) (*Matter, []Exemption, error) {
	m, err := x.Matters.Get(ctx, matterCode)
	if KindOf(err) == KindNotFound {
		return nil, nil, Errorf(KindNotFound, ReasonMatterUnknown, "matter %s is not a registered matter (事项目录): ask the coordinator to register it", matterCode)
	} else if err != nil {
		return nil, nil, err
	}
	applicant = NormalizeSubject(applicant)
	if _, err := ApplicantKind(applicant); err != nil {
		return nil, nil, err
	}
	q := ExemptionQuery{Matter: m, Applicant: applicant, Consumer: consumer, Resources: map[string]*Resource{}}
	var lookupErr error
	if x.ECerts != nil {
		q.HeldECert = func(typeCode string) (string, string) {
			id, why, err := x.ECerts.HeldECert(ctx, applicant, typeCode)
			if err != nil {
				lookupErr = err
			}
			return id, why
		}
	}
	for _, mt := range m.Materials {
		if mt.Resource == "" || q.Resources[mt.Resource] != nil {
			continue
		}
		res, err := x.Catalog.Get(ctx, mt.Resource, 0)
		if KindOf(err) == KindNotFound {
			continue
		} else if err != nil {
			return nil, nil, err
		}
		if res.Withdrawn {
			continue
		}
		q.Resources[res.Code] = res
		rs, err := x.Requirements.ForConsumer(ctx, consumer, res.Code)
		if err != nil {
			return nil, nil, err
		}
		q.Requirements = append(q.Requirements, rs...)
	}
	ex, err := Exemptions(q)
	if err != nil {
		return nil, nil, err
	}
	if lookupErr != nil {
		return nil, nil, lookupErr
	}
	return m, ex, nil
}

// Collector gathers, for an open case, every material of its matter that sharing or the
// e-certificate registry supplies (seed 004 Art. 21; seed 003 task 6): one audited, signed
// pull per shared material, one verified e-certificate per certificate material; what was
// obtained, and how, is recorded in the case.
type Collector struct {
	Cases      CaseReader
	Materials  CaseMaterials
	Exemptions *ExemptionFinder
	Puller     *Puller
	Now        func() time.Time
}

// CollectInput names the case; MatterCode and Applicant, when given, must be the case's.
type CollectInput struct {
	Caller     *Department
	Operator   string
	CaseNumber string
	MatterCode string
	Applicant  string
	FreshOnly  bool
}

// CollectedMaterial is one material's outcome: the exemption answer, and what was obtained
// (Pull or ECert) or why it could not be (Err).
type CollectedMaterial struct {
	Exemption Exemption
	Pull      *PullOutcome
	ECert     *FetchedECert
	Err       error
}

// CollectOutcome lists the case's materials in the matter's order.
type CollectOutcome struct {
	Case      *Case
	Materials []CollectedMaterial
}

// Collect gathers the materials of one case.
func (c *Collector) Collect(ctx context.Context, in CollectInput) (*CollectOutcome, error) {
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	if blank(in.CaseNumber) {
		return nil, Errorf(KindInvalid, ReasonCaseNumberMissing, "case_number (办件编码) is required: materials are collected for one open case of your department")
	}
	cs, err := c.Cases.Get(ctx, strings.TrimSpace(in.CaseNumber))
	if KindOf(err) == KindNotFound {
		return nil, Errorf(KindFailedPrecondition, ReasonCaseNotFound, "no case %s: open it first (gxctl case open)", in.CaseNumber)
	} else if err != nil {
		return nil, err
	}
	switch {
	case cs.Department != in.Caller.Code:
		return nil, Errorf(KindPermissionDenied, ReasonCaseForeign, "case %s is handled by department %s, not by %s", cs.Number, cs.Department, in.Caller.Code)
	case in.MatterCode != "" && in.MatterCode != cs.Matter:
		return nil, Errorf(KindInvalid, ReasonCaseMatterMismatch, "case %s is for matter %s, not %s", cs.Number, cs.Matter, in.MatterCode)
	case in.Applicant != "" && NormalizeSubject(in.Applicant) != cs.Applicant:
		return nil, Errorf(KindInvalid, "APPLICANT_MISMATCH", "the applicant of case %s is not the one named: collect for the case's own applicant (leave applicant empty)", cs.Number)
	case cs.State != CaseOpen:
		return nil, Errorf(KindFailedPrecondition, ReasonCaseClosed, "case %s is %s: materials are collected only for an open case", cs.Number, cs.State)
	}
	_, ex, err := c.Exemptions.Find(ctx, in.Caller.Code, cs.Matter, cs.Applicant)
	if err != nil {
		return nil, err
	}
	out := &CollectOutcome{Case: cs}
	var got []CaseMaterial
	for _, e := range ex {
		cm := CollectedMaterial{Exemption: e}
		switch e.Source {
		case SourceSharing:
			cm.Pull, cm.Err = c.Puller.Pull(ctx, PullInput{Caller: in.Caller, Operator: in.Operator, RequirementID: e.Requirement,
				MatterCode: cs.Matter, CaseNumber: cs.Number, Subjects: []string{cs.Applicant}, Items: e.Material.Items, FreshOnly: in.FreshOnly})
			if cm.Err == nil {
				got = append(got, CaseMaterial{Material: e.Material.ID, Name: e.Material.Name, Source: SourceSharing, Requirement: e.Requirement,
					PullID: cm.Pull.Result.PullID, AuditRefs: cm.Pull.AuditRefs, Digest: hex.EncodeToString(cm.Pull.Signed.Digest), ObtainedAt: now().UTC(), ObtainedBy: in.Caller.Code})
			}
		case SourceECert:
			var fe FetchedECert
			if fe, cm.Err = c.Exemptions.ECerts.FetchECert(ctx, e.ECert); cm.Err == nil {
				cm.ECert = &fe
				if fe.Valid {
					got = append(got, CaseMaterial{Material: e.Material.ID, Name: e.Material.Name, Source: SourceECert, ECert: fe.Identifier,
						Digest: fe.Digest, Verdict: fe.Verdict, ObtainedAt: now().UTC(), ObtainedBy: in.Caller.Code})
				} else {
					cm.Err = Errorf(KindFailedPrecondition, "ECERT_NOT_VALID", "e-certificate %s did not verify (%s: %s): ask the applicant for the material", fe.Identifier, fe.Verdict, fe.Reason)
				}
			}
		}
		out.Materials = append(out.Materials, cm)
	}
	if len(got) > 0 {
		if err := c.Materials.AddMaterials(ctx, cs.Number, got); err != nil {
			return nil, err
		}
		cs.Materials = append(cs.Materials, got...)
	}
	return out, nil
}

// ErrorOf returns err as a domain error for a per-material report: its reason and message,
// or ("", "") when err is not a domain error (an internal failure).
func ErrorOf(err error) (reason, message string) {
	var de *Error
	if errors.As(err, &de) && de.Kind != KindInternal {
		return de.Reason, de.Error()
	}
	return "", ""
}
