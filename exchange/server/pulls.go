package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
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
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
)

// MaxPullSubjects bounds one batch pull.
const MaxPullSubjects = 1000

// Pulls implements gxhub.exchange.v1.PullService (A3, A6): purpose-bound, policy-checked,
// signed and audited pulls.
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
	Store      store.Store
	Decider    policy.Decider
	Audit      ledger.Log
	SubjectKey ledger.SubjectKeyFunc
	Key        *sm.PrivateKey // the hub's signing key
	Calendar   exchange.WorkingTimer
	Log        *slog.Logger
	Now        func() time.Time

	pubOnce sync.Once
	pubPEM  string
}

func (p *Pulls) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func (p *Pulls) publicPEM() string {
	p.pubOnce.Do(func() {
		if b, err := sm.MarshalPublicKeyPEM(&p.Key.PublicKey); err == nil {
			p.pubPEM = string(b)
		}
	})
	return p.pubPEM
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// pullFacts is what the audit records of one pull share.
type pullFacts struct {
	id       string
	caller   *Caller
	req      *exchangev1.PullRequest
	resource string
	items    []string
}

// audit appends one record per subject (one subject-less record when none was given) and
// returns their indices in order.
func (p *Pulls) audit(ctx context.Context, f pullFacts, at time.Time, outcome ledger.Outcome, reason string, digest []byte) ([]uint64, error) {
	if p.Audit == nil {
		return nil, errors.New("no audit log is configured: pulls are refused without an audit trail")
	}
	subjects := f.req.GetSubjects()
	if len(subjects) == 0 || len(subjects) > MaxPullSubjects {
		subjects = []string{""}
	}
	base := ledger.Record{Kind: ledger.KindPull, Time: at, Department: f.caller.Department.Code, Operator: f.req.GetOperator(),
		Resource: f.resource, DataItems: f.items, Matter: f.req.GetMatterCode(), Case: f.req.GetCaseNumber(),
		Outcome: outcome, Reason: reason, ResponseDigest: digest, RequestID: f.id}
	idx := make([]uint64, len(subjects))
	errs := make([]error, len(subjects))
	var wg sync.WaitGroup
	for i, s := range subjects {
		r := base
		if s != "" && p.SubjectKey != nil {
			r.Subject = p.SubjectKey(exchange.NormalizeSubject(s))
		}
		wg.Add(1)
		go func() { // concurrent appends share one group commit
			defer wg.Done()
			idx[i], errs[i] = p.Audit.Append(ctx, r)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, exchange.Wrap(exchange.KindUnavailable, "AUDIT_UNAVAILABLE", err, "the audit log could not record this pull, so no data is returned: try again")
	}
	return idx, nil
}

// deny audits a refusal and returns err (or the audit failure).
func (p *Pulls) deny(ctx context.Context, f pullFacts, at time.Time, err error) error {
	reason := "INVALID"
	var de *exchange.Error
	var pe *policy.DeniedError
	switch {
	case errors.As(err, &pe):
		reason = pe.Decision.Reason
	case errors.As(err, &de):
		reason = de.Reason
	}
	if _, aerr := p.audit(ctx, f, at, ledger.OutcomeDenied, reason+": "+err.Error(), nil); aerr != nil {
		p.Log.ErrorContext(ctx, "audit of a refused pull failed", slog.String("pull", f.id), slog.String("error", aerr.Error()))
		return aerr
	}
	return err
}

// denial converts a policy decision into the domain error clients see.
func denial(d policy.Decision) error {
	return &exchange.Error{Kind: exchange.KindPermissionDenied, Reason: d.Reason, Msg: d.Message}
}

// Pull answers one pull.
func (p *Pulls) Pull(ctx context.Context, req *exchangev1.PullRequest) (*exchangev1.PullResponse, error) {
	caller, err := RequireCaller(ctx)
	if err != nil {
		return nil, err
	}
	now := p.now().UTC()
	f := pullFacts{id: newID(), caller: caller, req: req, items: req.GetItems()}
	bad := func(reason, format string, args ...any) error {
		return p.deny(ctx, f, now, exchange.Errorf(exchange.KindInvalid, reason, format, args...))
	}
	if !caller.Department.HasRole(exchange.RoleConsumer) {
		return nil, p.deny(ctx, f, now, exchange.Errorf(exchange.KindPermissionDenied, "ROLE_REQUIRED",
			"department %s does not hold the consumer role needed to pull data", caller.Department.Code))
	}
	if req.GetRequirementId() == "" {
		return nil, bad("REQUIREMENT_MISSING", "requirement_id is required: pulls are made under a granted requirement")
	}
	if strings.TrimSpace(req.GetMatterCode()) == "" {
		return nil, bad("MATTER_CODE_MISSING", "matter_code (事项编码) is required: every pull is bound to the matter it serves")
	}
	if n := len(req.GetSubjects()); n == 0 || n > MaxPullSubjects {
		return nil, bad("SUBJECTS_INVALID", "a pull names 1 to %d subjects, got %d", MaxPullSubjects, n)
	}
	rq, err := p.Store.Requirements().Get(ctx, req.GetRequirementId())
	if err != nil {
		if exchange.KindOf(err) == exchange.KindNotFound {
			return nil, p.deny(ctx, f, now, exchange.Errorf(exchange.KindNotFound, "REQUIREMENT_NOT_FOUND", "no requirement %s: file one, or use the id the hub returned", req.GetRequirementId()))
		}
		return nil, err
	}
	f.resource = rq.Resource
	res, err := p.Store.Catalog().Get(ctx, rq.Resource, 0)
	if err != nil {
		return nil, err
	}
	items := req.GetItems()
	if len(items) == 0 {
		items = rq.Items
	}
	f.items = items
	scope := req.GetScopeRegion()
	if scope == "" {
		scope = caller.Department.Region
	}
	dec, err := p.Decider.Decide(ctx, policy.Request{
		Department: caller.Department.Code, Operator: req.GetOperator(), Action: policy.ActionPull,
		Resource: res.Code, ShareType: string(res.ShareType), LegalBasis: res.LegalBasis, SharingOrdered: sharingOrdered(rq),
		RequirementID: rq.ID, RequirementConsumer: rq.Consumer, RequirementResource: rq.Resource, RequirementState: string(rq.State),
		GrantedItems: rq.Items, MatterCodes: rq.MatterCodes, GrantedScope: rq.ScopeRegion,
		MatterCode: req.GetMatterCode(), CaseNumber: req.GetCaseNumber(), Items: req.GetItems(), Scope: scope,
	})
	if err != nil {
		return nil, err
	}
	if !dec.Allow {
		return nil, p.deny(ctx, f, now, denial(dec))
	}
	fr := FreshnessOf(ctx, p.Store, p.Calendar, res, now)
	if req.GetFreshOnly() && fr.Stale {
		return nil, p.deny(ctx, f, now, exchange.StaleError(fr))
	}
	result := &exchangev1.PullResult{
		PullId: f.id, RequirementId: rq.ID, Consumer: caller.Department.Code, Operator: req.GetOperator(),
		Resource: res.Code, Provider: res.Provider, MatterCode: req.GetMatterCode(), CaseNumber: req.GetCaseNumber(),
		Items: items, AsOf: timestamppb.New(now), Freshness: FreshnessToProto(fr, res.Provider), PolicyVersion: dec.Version,
	}
	for i, s := range req.GetSubjects() {
		s = exchange.NormalizeSubject(s)
		if err := exchange.ValidateSubject(res.SubjectKind, s); err != nil {
			return nil, bad("SUBJECT_INVALID", "subject %d (%q) is not a valid %s: %v", i+1, s, res.SubjectKind, err)
		}
		rec, err := p.Store.Records().Latest(ctx, res.Code, s)
		if exchange.KindOf(err) == exchange.KindNotFound || (err == nil && rec.Deleted) {
			result.NotFound = append(result.NotFound, s)
			continue
		}
		if err != nil {
			return nil, err
		}
		pr := &exchangev1.PulledRecord{Subject: s, Version: rec.Version, PublishedAt: timestamppb.New(rec.PublishedAt), BatchId: rec.Batch, Fields: map[string]string{}}
		for _, it := range items {
			if v, ok := rec.Fields[it]; ok {
				pr.Fields[it] = v
			}
		}
		result.Records = append(result.Records, pr)
	}
	payload, err := proto.MarshalOptions{Deterministic: true}.Marshal(result)
	if err != nil {
		return nil, fmt.Errorf("encode pull result: %w", err)
	}
	sig, err := sm.Sign(p.Key, payload)
	if err != nil {
		return nil, fmt.Errorf("sign pull result: %w", err)
	}
	digest := sm.Sum(payload)
	refs, err := p.audit(ctx, f, now, ledger.OutcomeGranted, policy.ReasonGranted+": "+dec.Message, digest[:])
	if err != nil {
		return nil, err
	}
	return &exchangev1.PullResponse{Payload: payload, Signature: sig, SignerPublicKeyPem: p.publicPEM(), AuditReferences: refs, Result: result}, nil
}

// sharingOrdered reports whether the coordinator ordered sharing for the requirement.
func sharingOrdered(r *exchange.Requirement) bool {
	for _, d := range r.Decisions {
		if d.Action == exchange.ActOrderShare {
			return true
		}
	}
	return false
}
