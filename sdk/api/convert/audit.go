package convert

import (
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gxhub/gxhub/ledger"
	auditv1 "github.com/gxhub/gxhub/sdk/api/audit/v1"
)

// HeadToProto converts a signed tree head for the wire.
func HeadToProto(h ledger.SignedTreeHead) *auditv1.SignedTreeHead {
	return &auditv1.SignedTreeHead{LogId: h.LogID, TreeSize: h.Size, RootHash: h.Root, Time: timestamppb.New(h.Time), KeyId: h.KeyID, Signature: h.Signature}
}

// HeadFromProto converts a wire head back (for offline verification).
func HeadFromProto(p *auditv1.SignedTreeHead) ledger.SignedTreeHead {
	return ledger.SignedTreeHead{
		TreeHead:  ledger.TreeHead{LogID: p.GetLogId(), Size: p.GetTreeSize(), Root: p.GetRootHash(), Time: p.GetTime().AsTime()},
		KeyID:     p.GetKeyId(),
		Signature: p.GetSignature(),
	}
}

// AnchorToProto converts an anchor block.
func AnchorToProto(b ledger.Anchor) *auditv1.Anchor {
	return &auditv1.Anchor{Height: b.Height, PrevHash: b.PrevHash, Time: timestamppb.New(b.Time), Head: HeadToProto(b.Head),
		Consistency: b.Consistency, KeyId: b.KeyID, Signature: b.Signature, Hash: b.Hash, Ref: b.Ref}
}

// RecordToProto converts a log entry.
func RecordToProto(e ledger.Entry) *auditv1.AuditRecord {
	r := e.Record
	return &auditv1.AuditRecord{
		Index: e.Index, Leaf: e.Leaf, Kind: string(r.Kind), Time: timestamppb.New(r.Time), Department: r.Department, Operator: r.Operator,
		Resource: r.Resource, DataItems: r.DataItems, SubjectKey: r.Subject.String(), Matter: r.Matter, CaseNumber: r.Case,
		Outcome: string(r.Outcome), Reason: r.Reason, ResponseDigest: r.ResponseDigest, RequestId: r.RequestID,
	}
}

// AnchorFromProto converts a wire anchor block back (for offline verification).
func AnchorFromProto(p *auditv1.Anchor) ledger.Anchor {
	return ledger.Anchor{Height: p.GetHeight(), PrevHash: p.GetPrevHash(), Time: p.GetTime().AsTime(), Head: HeadFromProto(p.GetHead()),
		Consistency: p.GetConsistency(), KeyID: p.GetKeyId(), Signature: p.GetSignature(), Hash: p.GetHash(), Ref: p.GetRef()}
}
