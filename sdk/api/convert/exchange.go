package convert

import (
	"strings"

	"github.com/gxhub/gxhub/exchange"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
)

// VouchToProto converts a record's vouch for the wire (nil stays nil).
func VouchToProto(v *exchange.Vouch) *exchangev1.RecordVouch {
	if v == nil {
		return nil
	}
	return &exchangev1.RecordVouch{PublishRecord: v.PublishRecord, EvidenceDigest: v.EvidenceDigest, Position: v.Position, BatchSize: v.BatchSize,
		Path: v.Path, Salts: v.Salts, Withheld: v.Withheld}
}

// VouchFromProto converts a wire vouch back (for offline verification).
func VouchFromProto(p *exchangev1.RecordVouch) *exchange.Vouch {
	if p == nil {
		return nil
	}
	return &exchange.Vouch{PublishRecord: p.GetPublishRecord(), EvidenceDigest: p.GetEvidenceDigest(), Position: p.GetPosition(), BatchSize: p.GetBatchSize(),
		Path: p.GetPath(), Salts: p.GetSalts(), Withheld: p.GetWithheld()}
}

// LegalBasisToProto converts a citation for the wire, with its readable form (nil when
// there is none).
func LegalBasisToProto(b exchange.LegalBasis) *exchangev1.LegalBasis {
	if b.IsZero() {
		return nil
	}
	return &exchangev1.LegalBasis{Kind: string(b.Kind), Title: b.Title, Article: b.Article, DocumentNumber: b.DocNumber, Citation: b.Citation()}
}

// LegalBasisFromProto converts the wire form (citation is output only and ignored).
func LegalBasisFromProto(p *exchangev1.LegalBasis) exchange.LegalBasis {
	return exchange.LegalBasis{Kind: exchange.LegalBasisKind(p.GetKind()), Title: p.GetTitle(), Article: p.GetArticle(), DocNumber: p.GetDocumentNumber()}.Normalize()
}

// MaterialToProto converts a matter's material for the wire.
func MaterialToProto(mt exchange.Material) *exchangev1.Material {
	return &exchangev1.Material{Id: mt.ID, Name: mt.Name, Resource: mt.Resource, Items: mt.Items, EcertType: mt.ECertType}
}

// MatterToProto converts a matter for the wire.
func MatterToProto(m *exchange.Matter) *exchangev1.Matter {
	out := &exchangev1.Matter{Code: m.Code, Name: m.Name, Department: m.Department, Version: int32(m.Version), UpdatedAt: ts(m.UpdatedAt), UpdatedBy: m.UpdatedBy,
		LegalBasis: LegalBasisToProto(m.LegalBasis), TimeLimitDays: int32(m.TimeLimit)}
	for _, mt := range m.Materials {
		out.Materials = append(out.Materials, MaterialToProto(mt))
	}
	return out
}

// MatterFromProto converts the wire form (nil for nil).
func MatterFromProto(p *exchangev1.Matter) *exchange.Matter {
	if p == nil {
		return nil
	}
	m := &exchange.Matter{Code: strings.TrimSpace(p.GetCode()), Name: strings.TrimSpace(p.GetName()), Department: strings.TrimSpace(p.GetDepartment()),
		LegalBasis: LegalBasisFromProto(p.GetLegalBasis()), TimeLimit: int(p.GetTimeLimitDays()), Version: int(p.GetVersion())}
	for _, mt := range p.GetMaterials() {
		m.Materials = append(m.Materials, exchange.Material{ID: mt.GetId(), Name: strings.TrimSpace(mt.GetName()), Resource: mt.GetResource(), Items: mt.GetItems(), ECertType: mt.GetEcertType()})
	}
	return m
}

// ExemptionToProto converts an exemption answer for the wire.
func ExemptionToProto(e exchange.Exemption) *exchangev1.Exemption {
	return &exchangev1.Exemption{Material: MaterialToProto(e.Material), Exempt: e.Exempt, Source: string(e.Source),
		Requirement: e.Requirement, Provider: e.Provider, Reason: e.Reason, Ecert: e.ECert}
}
