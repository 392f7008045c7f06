package server

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/store"
	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/policy"
	"github.com/gxhub/gxhub/sdk/api/convert"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
)

// MaxPullSubjects bounds one batch pull.
const MaxPullSubjects = exchange.MaxPullSubjects

// Pulls implements gxhub.exchange.v1.PullService (A3, A6): it decodes the request, runs the
// pull use case (exchange.Puller, where every rule lives) and encodes the answer.
//
// The signed bytes: PullResponse.payload is the deterministic protobuf encoding
// (proto.MarshalOptions{Deterministic: true}) of a PullResult; PullResponse.signature is
// the hub's SM2 signature (DER; default user ID 1234567812345678, Z, SM3) over exactly
// those bytes. A client verifies over the bytes it received and only then decodes them
// (sdk.VerifyPull). Every pull — allowed or refused — is appended to the audit log, one
// record per subject (subject as keyed hash); for an allowed pull each record's response
// digest is SM3(payload), so the audit references in the response point to records that
// bind this very payload.
type Pulls struct {
	exchangev1.UnimplementedPullServiceServer
	Puller *exchange.Puller
	Signer *PullSigner
	// Batches makes and serves batch files (CreateBatch).
	Batches *BatchFiles
}

// Pull answers one pull.
func (p *Pulls) Pull(ctx context.Context, req *exchangev1.PullRequest) (*exchangev1.PullResponse, error) {
	caller, err := RequireCaller(ctx)
	if err != nil {
		return nil, err
	}
	return p.pull(ctx, caller, req)
}

func (p *Pulls) pull(ctx context.Context, caller *Caller, req *exchangev1.PullRequest) (*exchangev1.PullResponse, error) {
	out, err := p.Puller.Pull(ctx, exchange.PullInput{Caller: caller.Department, Operator: caller.OperatorID(),
		RequirementID: req.GetRequirementId(), MatterCode: req.GetMatterCode(), CaseNumber: req.GetCaseNumber(),
		Subjects: req.GetSubjects(), Items: req.GetItems(), FreshOnly: req.GetFreshOnly(), ScopeRegion: req.GetScopeRegion()})
	if err != nil {
		return nil, err
	}
	return p.Signer.Response(out)
}

// VerifyData answers one verification (核验): outcomes per claimed item, no value.
func (p *Pulls) VerifyData(ctx context.Context, req *exchangev1.VerifyDataRequest) (*exchangev1.VerifyDataResponse, error) {
	caller, err := RequireCaller(ctx)
	if err != nil {
		return nil, err
	}
	in := exchange.VerifyInput{Caller: caller.Department, Operator: req.GetOperator(), RequirementID: req.GetRequirementId(),
		MatterCode: req.GetMatterCode(), CaseNumber: req.GetCaseNumber(), Subject: req.GetSubject()}
	for item, v := range req.GetClaims() {
		in.Claims = append(in.Claims, exchange.Claim{Item: item, Value: v})
	}
	slices.SortFunc(in.Claims, func(a, b exchange.Claim) int { return strings.Compare(a.Item, b.Item) })
	out, err := p.Puller.Verify(ctx, in)
	if err != nil {
		return nil, err
	}
	result := &exchangev1.VerifyResult{}
	if err := proto.Unmarshal(out.Signed.Payload, result); err != nil {
		return nil, fmt.Errorf("decode signed verification result: %w", err)
	}
	return &exchangev1.VerifyDataResponse{Payload: out.Signed.Payload, Signature: out.Signed.Signature, SignerPublicKeyPem: p.Signer.PublicPEM(),
		AuditReferences: out.AuditRefs, Result: result}, nil
}

// SignVerification implements exchange.VerifySigner.
func (s *PullSigner) SignVerification(_ context.Context, r *exchange.VerifyResult) (exchange.SignedPull, error) {
	return s.sign(VerifyResultToProto(r))
}

// VerifyResultToProto converts a verification result for signing.
func VerifyResultToProto(r *exchange.VerifyResult) *exchangev1.VerifyResult {
	out := &exchangev1.VerifyResult{
		VerificationId: r.VerificationID, RequirementId: r.RequirementID, Consumer: r.Consumer, Operator: r.Operator,
		Resource: r.Resource, Provider: r.Provider, MatterCode: r.MatterCode, CaseNumber: r.CaseNumber, Subject: r.Subject,
		AsOf: timestamppb.New(r.AsOf), RecordVersion: r.RecordVersion, Freshness: FreshnessToProto(r.Freshness, r.Provider),
		PolicyVersion: r.PolicyVersion,
	}
	for _, v := range r.Results {
		out.Results = append(out.Results, &exchangev1.ItemVerdict{Item: v.Item, Outcome: string(v.Outcome)})
	}
	return out
}

// PullSigner signs pull results with the hub's key (exchange.PullSigner): the payload is
// the deterministic protobuf encoding of the result.
type PullSigner struct {
	Key *sm.PrivateKey

	pubOnce sync.Once
	pubPEM  string
}

// SignPull implements exchange.PullSigner.
func (s *PullSigner) SignPull(_ context.Context, r *exchange.PullResult) (exchange.SignedPull, error) {
	return s.sign(PullResultToProto(r))
}

// sign signs the deterministic protobuf encoding of m.
func (s *PullSigner) sign(m proto.Message) (exchange.SignedPull, error) {
	payload, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return exchange.SignedPull{}, fmt.Errorf("encode %s: %w", m.ProtoReflect().Descriptor().Name(), err)
	}
	sig, err := sm.Sign(s.Key, payload)
	if err != nil {
		return exchange.SignedPull{}, err
	}
	d := sm.Sum(payload)
	return exchange.SignedPull{Payload: payload, Signature: sig, Digest: d[:]}, nil
}

// PublicPEM is the hub's signing key in PEM.
func (s *PullSigner) PublicPEM() string {
	s.pubOnce.Do(func() {
		if b, err := sm.MarshalPublicKeyPEM(&s.Key.PublicKey); err == nil {
			s.pubPEM = string(b)
		}
	})
	return s.pubPEM
}

// Response encodes a granted pull for the wire. Result is decoded from the signed payload,
// so it shows exactly what was signed.
func (s *PullSigner) Response(out *exchange.PullOutcome) (*exchangev1.PullResponse, error) {
	result := &exchangev1.PullResult{}
	if err := proto.Unmarshal(out.Signed.Payload, result); err != nil {
		return nil, fmt.Errorf("decode signed pull result: %w", err)
	}
	return &exchangev1.PullResponse{Payload: out.Signed.Payload, Signature: out.Signed.Signature, SignerPublicKeyPem: s.PublicPEM(),
		AuditReferences: out.AuditRefs, Result: result}, nil
}

// PullResultToProto converts a result for signing.
func PullResultToProto(r *exchange.PullResult) *exchangev1.PullResult {
	out := &exchangev1.PullResult{
		PullId: r.PullID, RequirementId: r.RequirementID, Consumer: r.Consumer, Operator: r.Operator,
		Resource: r.Resource, Provider: r.Provider, MatterCode: r.MatterCode, CaseNumber: r.CaseNumber,
		Items: r.Items, AsOf: timestamppb.New(r.AsOf), Freshness: FreshnessToProto(r.Freshness, r.Provider),
		PolicyVersion: r.PolicyVersion, NotFound: r.NotFound, MaskedItems: r.Masked,
	}
	for _, rec := range r.Records {
		out.Records = append(out.Records, &exchangev1.PulledRecord{Subject: rec.Subject, Version: rec.Version,
			PublishedAt: timestamppb.New(rec.PublishedAt), BatchId: rec.Batch, Fields: rec.Fields, Vouch: convert.VouchToProto(rec.Vouch)})
	}
	return out
}

// PolicyRestriction lets the casbin policy restrict pulls further (exchange.PullPolicy).
type PolicyRestriction struct{ Decider policy.Decider }

// Restrict implements exchange.PullPolicy.
func (p PolicyRestriction) Restrict(ctx context.Context, f exchange.PullFacts) (exchange.PolicyVerdict, error) {
	rq, res := f.Requirement, f.Resource
	scope := f.Scope // a batch file names no case: its scope is the resource's
	if f.Case != nil {
		scope = f.Case.Region
	}
	dec, err := p.Decider.Decide(ctx, policy.Request{
		Department: f.Caller.Code, Operator: f.Operator, Action: policy.ActionPull,
		Resource: res.Code, ShareType: string(res.ShareType), LegalBasis: res.LegalBasis.Citation(), SharingOrdered: rq.SharingOrdered(),
		RequirementID: rq.ID, RequirementConsumer: rq.Consumer, RequirementResource: rq.Resource, RequirementState: string(rq.State),
		GrantedItems: rq.Items, MatterCodes: rq.MatterCodes, GrantedScope: rq.ScopeRegion,
		MatterCode: f.MatterCode, CaseNumber: f.CaseNumber, Items: f.Items, Scope: scope,
	})
	if err != nil {
		return exchange.PolicyVerdict{}, err
	}
	return exchange.PolicyVerdict{Allow: dec.Allow, Reason: dec.Reason, Message: dec.Message, Version: dec.Version}, nil
}

// PullAudit appends a pull's audit records to the hub's log (exchange.PullAuditor): one
// per subject, the subject as a keyed hash, concurrently so that they share a group commit.
type PullAudit struct {
	Log        ledger.Log
	SubjectKey ledger.SubjectKeyFunc
}

// AuditPull implements exchange.PullAuditor.
func (a PullAudit) AuditPull(ctx context.Context, p exchange.PullAudit) ([]uint64, error) {
	if a.Log == nil {
		return nil, errors.New("no audit log is configured")
	}
	outcome := ledger.OutcomeDenied
	if p.Granted {
		outcome = ledger.OutcomeGranted
	}
	subjects := p.Subjects
	if len(subjects) == 0 {
		subjects = []string{""}
	}
	base := ledger.Record{Kind: ledger.KindPull, Time: p.At, Department: p.Department, Operator: p.Operator,
		Resource: p.Resource, DataItems: p.Items, Matter: p.Matter, Case: p.Case,
		Outcome: outcome, Reason: clipText(p.Reason, maxAuditReason), ResponseDigest: p.Digest, RequestID: p.PullID}
	idx := make([]uint64, len(subjects))
	errs := make([]error, len(subjects))
	var wg sync.WaitGroup
	for i, s := range subjects {
		r := base
		if s != "" && a.SubjectKey != nil {
			r.Subject = a.SubjectKey(s)
		}
		wg.Add(1)
		go func() { // concurrent appends share one group commit
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

// StoreFreshness measures a resource's freshness from the store and the calendar
// (exchange.FreshnessReader).
type StoreFreshness struct {
	Store    store.Store
	Calendar exchange.WorkingTimer
}

// FreshnessOf implements exchange.FreshnessReader.
func (f StoreFreshness) FreshnessOf(ctx context.Context, r *exchange.Resource, now time.Time) exchange.Freshness {
	return FreshnessOf(ctx, f.Store, f.Calendar, r, now)
}

// registeredMatters answers whether a matter is registered, remembering the matters found:
// a matter once registered stays registered (the registry has no deletion, a change is a
// new version), and a pull checks only that, so a positive cache is exact. Codes not found
// are asked again every time.
type registeredMatters struct {
	store.Matters
	known sync.Map // code → *exchange.Matter
}

// Get implements exchange.MatterReader.
func (m *registeredMatters) Get(ctx context.Context, code string) (*exchange.Matter, error) {
	if v, ok := m.known.Load(code); ok {
		return v.(*exchange.Matter), nil
	}
	mt, err := m.Matters.Get(ctx, code)
	if err == nil {
		m.known.Store(code, mt)
	}
	return mt, err
}

// caseBriefs reads cases for pulls without their history and materials.
type caseBriefs struct{ store.Cases }

// Get implements exchange.CaseReader.
func (c caseBriefs) Get(ctx context.Context, number string) (*exchange.Case, error) {
	return c.Brief(ctx, number)
}

// GetMany implements exchange.CaseBatchReader when the store reads many cases at once.
func (c caseBriefs) GetMany(ctx context.Context, numbers []string) (map[string]*exchange.Case, error) {
	if m, ok := c.Cases.(interface {
		BriefMany(ctx context.Context, numbers []string) (map[string]*exchange.Case, error)
	}); ok {
		return m.BriefMany(ctx, numbers)
	}
	out := map[string]*exchange.Case{}
	for _, n := range numbers {
		cs, err := c.Brief(ctx, n)
		if exchange.KindOf(err) == exchange.KindNotFound {
			continue
		}
		if err != nil {
			return nil, err
		}
		out[n] = cs
	}
	return out, nil
}

// NewPuller wires the pull use case over the store, the policy, the hub's key and the
// audit log.
func NewPuller(s store.Store, d policy.Decider, signer *PullSigner, audit ledger.Log, subjectKey ledger.SubjectKeyFunc, cal exchange.WorkingTimer, now func() time.Time) *exchange.Puller {
	p := &exchange.Puller{Requirements: s.Requirements(), Catalog: s.Catalog(), Records: s.Records(), Cases: caseBriefs{s.Cases()}, Matters: &registeredMatters{Matters: s.Matters()},
		Versions: s.Records(), Freshness: StoreFreshness{Store: s, Calendar: cal}, Policy: PolicyRestriction{Decider: d}, Signer: signer, VerifySigner: signer, Now: now}
	if audit != nil {
		p.Audit = PullAudit{Log: audit, SubjectKey: subjectKey}
		p.Voucher = &Voucher{Store: s, Log: audit}
	}
	return p
}

func newID() string { return exchange.NewID() }
