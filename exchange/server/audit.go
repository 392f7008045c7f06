package server

import (
	"context"
	"errors"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/ledger"
	auditv1 "github.com/gxhub/gxhub/sdk/api/audit/v1"
)

// AuditLog is what the audit service needs from the log.
type AuditLog interface {
	ledger.Log
	Size() uint64
}

// Audit implements gxhub.audit.v1.AuditService.
type Audit struct {
	auditv1.UnimplementedAuditServiceServer
	Log       AuditLog
	Heads     ledger.HeadStorage
	Anchors   ledger.Anchorer
	LogID     string
	KeyID     string
	PublicPEM string
}

// ledgerErr maps ledger sentinels to domain errors.
func ledgerErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ledger.ErrNotFound):
		return exchange.Wrap(exchange.KindNotFound, "AUDIT_NOT_FOUND", err, "not in the audit log (yet)")
	case errors.Is(err, ledger.ErrInvalid):
		return exchange.Wrap(exchange.KindInvalid, "AUDIT_QUERY_INVALID", err, "invalid audit query")
	case errors.Is(err, ledger.ErrUnavailable):
		return exchange.Wrap(exchange.KindUnavailable, "AUDIT_UNAVAILABLE", err, "the audit log is temporarily unavailable: retry")
	}
	return err
}

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

// GetLogInfo implements the public log identity call.
func (a *Audit) GetLogInfo(context.Context, *auditv1.GetLogInfoRequest) (*auditv1.LogInfo, error) {
	return &auditv1.LogInfo{LogId: a.LogID, PublicKeyPem: a.PublicPEM, KeyId: a.KeyID, Size: a.Log.Size()}, nil
}

func (a *Audit) head(ctx context.Context, size uint64) (ledger.SignedTreeHead, error) {
	if size == 0 {
		h, err := a.Log.Head(ctx)
		if errors.Is(err, ledger.ErrNotFound) {
			return h, exchange.Errorf(exchange.KindNotFound, "AUDIT_NO_HEAD", "no tree head has been signed yet: heads are published at the log's interval; retry shortly")
		}
		return h, ledgerErr(err)
	}
	h, err := a.Heads.GetHead(ctx, size)
	if errors.Is(err, ledger.ErrNotFound) {
		return h, exchange.Errorf(exchange.KindNotFound, "AUDIT_NO_HEAD", "no signed head of tree size %d: heads exist only for the sizes the log signed; use 0 for the latest", size)
	}
	return h, ledgerErr(err)
}

// GetTreeHead returns the latest or a sized signed head.
func (a *Audit) GetTreeHead(ctx context.Context, req *auditv1.GetTreeHeadRequest) (*auditv1.SignedTreeHead, error) {
	h, err := a.head(ctx, req.GetTreeSize())
	if err != nil {
		return nil, err
	}
	return HeadToProto(h), nil
}

// GetConsistencyProof proves size2 extends size1.
func (a *Audit) GetConsistencyProof(ctx context.Context, req *auditv1.GetConsistencyProofRequest) (*auditv1.ConsistencyProof, error) {
	p, err := a.Log.ConsistencyProof(ctx, req.GetSize1(), req.GetSize2())
	if err != nil {
		return nil, ledgerErr(err)
	}
	return &auditv1.ConsistencyProof{Size1: req.GetSize1(), Size2: req.GetSize2(), Hashes: p}, nil
}

// AnchorToProto converts an anchor block.
func AnchorToProto(b ledger.Anchor) *auditv1.Anchor {
	return &auditv1.Anchor{Height: b.Height, PrevHash: b.PrevHash, Time: timestamppb.New(b.Time), Head: HeadToProto(b.Head),
		Consistency: b.Consistency, KeyId: b.KeyID, Signature: b.Signature, Hash: b.Hash, Ref: b.Ref}
}

// GetAnchor returns an anchor block.
func (a *Audit) GetAnchor(ctx context.Context, req *auditv1.GetAnchorRequest) (*auditv1.Anchor, error) {
	var (
		b   ledger.Anchor
		err error
	)
	switch {
	case req.GetHeight() > 0:
		b, err = a.Anchors.Get(ctx, req.GetHeight())
	case req.GetTreeSize() > 0:
		b, err = a.Anchors.BySize(ctx, req.GetTreeSize())
	default:
		b, err = a.Anchors.Latest(ctx)
	}
	if err != nil {
		return nil, ledgerErr(err)
	}
	return AnchorToProto(b), nil
}

// GetInclusionProof returns a record's audit path to a signed head.
func (a *Audit) GetInclusionProof(ctx context.Context, req *auditv1.GetInclusionProofRequest) (*auditv1.InclusionProof, error) {
	if _, err := RequireCaller(ctx); err != nil {
		return nil, err
	}
	h, err := a.head(ctx, req.GetTreeSize())
	if err != nil {
		return nil, err
	}
	if req.GetIndex() >= h.Size {
		return nil, exchange.Errorf(exchange.KindNotFound, "AUDIT_NOT_COVERED",
			"record %d is not covered by the tree head of size %d: wait for the next signed head or ask for a larger tree_size", req.GetIndex(), h.Size)
	}
	e, err := a.Log.GetRecord(ctx, req.GetIndex())
	if err != nil {
		return nil, ledgerErr(err)
	}
	p, err := a.Log.InclusionProof(ctx, req.GetIndex(), h.Size)
	if err != nil {
		return nil, ledgerErr(err)
	}
	return &auditv1.InclusionProof{Index: req.GetIndex(), Leaf: e.Leaf, Hashes: p, Head: HeadToProto(h)}, nil
}

// GetRecord returns a record to an auditor or to the department that acted in it.
func (a *Audit) GetRecord(ctx context.Context, req *auditv1.GetRecordRequest) (*auditv1.AuditRecord, error) {
	c, err := RequireCaller(ctx)
	if err != nil {
		return nil, err
	}
	e, err := a.Log.GetRecord(ctx, req.GetIndex())
	if err != nil {
		return nil, ledgerErr(err)
	}
	if !c.Department.HasRole(exchange.RoleAuditor) && e.Record.Department != c.Department.Code {
		return nil, exchange.Errorf(exchange.KindPermissionDenied, "AUDITOR_REQUIRED",
			"audit record %d is readable by auditors and by the department that acted in it, not by %s", req.GetIndex(), c.Department.Code)
	}
	return RecordToProto(e), nil
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
