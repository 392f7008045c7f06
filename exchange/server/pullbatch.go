package server

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/ledger"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
)

// PullBatches implements gxhub.exchange.v1.PullBatchService: many subjects, each under its
// own requirement, matter and case, decided entry by entry by the pull use case
// (exchange.Puller.PullBatch), signed once, one audit record per entry.
type PullBatches struct {
	exchangev1.UnimplementedPullBatchServiceServer
	Puller *exchange.Puller
	Signer *PullSigner
}

// PullBatch answers one batch pull.
func (p *PullBatches) PullBatch(ctx context.Context, req *exchangev1.PullBatchRequest) (*exchangev1.PullBatchResponse, error) {
	caller, err := RequireCaller(ctx)
	if err != nil {
		return nil, err
	}
	in := exchange.PullBatchInput{Caller: caller.Department, Operator: caller.OperatorID(), Items: req.GetItems(), FreshOnly: req.GetFreshOnly()}
	in.Entries = make([]exchange.PullBatchEntry, len(req.GetEntries()))
	for i, e := range req.GetEntries() {
		in.Entries[i] = exchange.PullBatchEntry{RequirementID: e.GetRequirementId(), MatterCode: e.GetMatterCode(), CaseNumber: e.GetCaseNumber(), Subject: e.GetSubject()}
	}
	out, err := p.Puller.PullBatch(ctx, in)
	if err != nil {
		return nil, err
	}
	result := &exchangev1.PullBatchResult{}
	if err := proto.Unmarshal(out.Signed.Payload, result); err != nil {
		return nil, fmt.Errorf("decode signed batch pull result: %w", err)
	}
	return &exchangev1.PullBatchResponse{Payload: out.Signed.Payload, Signature: out.Signed.Signature, SignerPublicKeyPem: p.Signer.PublicPEM(),
		AuditReferences: out.AuditRefs, Result: result}, nil
}

// SignPullBatch implements exchange.PullBatchSigner.
func (s *PullSigner) SignPullBatch(_ context.Context, r *exchange.PullBatchResult) (exchange.SignedPull, error) {
	return s.sign(PullBatchResultToProto(r))
}

// PullBatchResultToProto converts a batch result for signing.
func PullBatchResultToProto(r *exchange.PullBatchResult) *exchangev1.PullBatchResult {
	out := &exchangev1.PullBatchResult{BatchId: r.BatchID, Consumer: r.Consumer, Operator: r.Operator, AsOf: timestamppb.New(r.AsOf),
		Entries: make([]*exchangev1.PullBatchOutcome, len(r.Entries))}
	for i, e := range r.Entries {
		o := &exchangev1.PullBatchOutcome{Entry: &exchangev1.PullBatchEntry{RequirementId: e.Entry.RequirementID, MatterCode: e.Entry.MatterCode,
			CaseNumber: e.Entry.CaseNumber, Subject: e.Entry.Subject}, Granted: e.Granted, Reason: e.Reason, Message: e.Message}
		if e.Result != nil {
			o.Result = PullResultToProto(e.Result)
		}
		out.Entries[i] = o
	}
	return out
}

// AuditPulls implements exchange.PullBatchAuditor: every record of the batch is appended
// concurrently, so that they share group commits; each PullAudit names at most one subject.
func (a PullAudit) AuditPulls(ctx context.Context, as []exchange.PullAudit) ([]uint64, error) {
	if a.Log == nil {
		return nil, errors.New("no audit log is configured")
	}
	idx := make([]uint64, len(as))
	errs := make([]error, len(as))
	for i, p := range as {
		if len(p.Subjects) > 1 {
			return nil, fmt.Errorf("batch audit entry %d names %d subjects, want at most one", i+1, len(p.Subjects))
		}
	}
	var wg sync.WaitGroup
	for i, p := range as {
		outcome := ledger.OutcomeDenied
		if p.Granted {
			outcome = ledger.OutcomeGranted
		}
		r := ledger.Record{Kind: ledger.KindPull, Time: p.At, Department: p.Department, Operator: p.Operator,
			Resource: p.Resource, DataItems: p.Items, Matter: p.Matter, Case: p.Case,
			Outcome: outcome, Reason: clipText(p.Reason, maxAuditReason), ResponseDigest: p.Digest, RequestID: p.PullID}
		if len(p.Subjects) == 1 && p.Subjects[0] != "" && a.SubjectKey != nil {
			r.Subject = a.SubjectKey(p.Subjects[0])
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			idx[i], errs[i] = a.Log.Append(ctx, r)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return idx, nil
}
