package exchange

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"
)

// FeedChange is one entry of the hub's change feed: a record version a publish created. Seq
// orders the feed; it grows with every change and a change never appears after a later
// one (the store commits changes in Seq order).
type FeedChange struct {
	Seq      int64
	Resource string
	Subject  string
	Version  int64
}

// Ports of the Subscriber.
type (
	// ChangeFeed reads the change feed of one resource.
	ChangeFeed interface {
		// ChangesAfter returns up to limit changes of resource with Seq > after, in Seq order.
		ChangesAfter(ctx context.Context, resource string, after int64, limit int) ([]FeedChange, error)
	}
	// ChangeSignal wakes followers when changes may have been published: Changed returns
	// a channel closed at the next publish (of any resource).
	ChangeSignal interface {
		Changed() <-chan struct{}
	}
)

// SubscribeInput is one subscription as the consuming department asked for it: the
// changes of the records of a case's subjects (its applicant and declared parties), under
// a granted requirement whose provision method is subscription, after a cursor.
type SubscribeInput struct {
	Caller        *Department
	Operator      string
	RequirementID string
	MatterCode    string
	CaseNumber    string
	After         int64 // the last cursor received (0: from the first change)
	UntilCaughtUp bool  // end once every change so far is delivered
}

// Delivery is one change delivered: the change, a key stable across redeliveries, and
// the pull of its subject that answers it (signed and audited like any pull).
type Delivery struct {
	Change         FeedChange
	IdempotencyKey string
	Outcome        *PullOutcome
}

// Subscriber is the subscription use case (A1/A2 provision method subscription). It adds
// no rule of its own to what data leaves the hub: every change is answered by Puller.Pull
// for that one subject, so the invariants (CheckPull), the policy, minimisation to the
// approved items, the hub's signature and the audit record are those of a pull. It checks
// only that the requirement's provision method is subscription, and the invariants once
// when the subscription starts so that a subscription that could never deliver is refused
// at once (audited like a refused pull).
//
// Delivery is at least once: a delivery's cursor is the change's Seq; a consumer that
// resumes with the last cursor it processed gets every later change exactly once more at
// most, each with the same IdempotencyKey.
type Subscriber struct {
	Puller *Puller
	Feed   ChangeFeed
	Signal ChangeSignal
	// Poll bounds the wait for a change published by another hub sharing the store
	// (the signal is in-process); default 2 s.
	Poll time.Duration
}

// ReasonProvisionMethod refuses a subscription under a requirement whose provision
// method is not subscription.
const ReasonProvisionMethod = "PROVISION_METHOD_MISMATCH"

// changesPerRead bounds one read of the change feed.
const changesPerRead = 256

// IdempotencyKey is the stable key of the delivery of change seq to the subscription of
// (requirement, case).
func IdempotencyKey(requirementID, caseNumber string, seq int64) string {
	return requirementID + "/" + caseNumber + "/" + strconv.FormatInt(seq, 10)
}

// Follow delivers the changes after in.After to emit, one at a time in feed order, until
// ctx ends, emit fails, a pull is refused (the case closed, the requirement revoked: the
// refusal is returned), or — with UntilCaughtUp — no change is left.
func (s *Subscriber) Follow(ctx context.Context, in SubscribeInput, emit func(Delivery) error) error {
	if in.After < 0 {
		return Errorf(KindInvalid, "CURSOR_INVALID", "after must be a cursor the hub delivered (≥ 0), got %d", in.After)
	}
	rq, err := s.Admit(ctx, in)
	if err != nil {
		return err
	}
	cursor := in.After
	for {
		wake := s.Signal.Changed() // before reading: a publish after the read still wakes us
		changes, err := s.Feed.ChangesAfter(ctx, rq.Resource, cursor, changesPerRead)
		if err != nil {
			return err
		}
		if len(changes) == 0 {
			if in.UntilCaughtUp {
				return nil
			}
			if err := s.wait(ctx, wake); err != nil {
				return err
			}
			continue
		}
		whole := blank(in.CaseNumber)
		var cs *Case
		if !whole {
			if cs, err = s.Puller.Cases.Get(ctx, in.CaseNumber); err != nil { // parties may be declared meanwhile
				return err
			}
		}
		for _, c := range changes {
			cursor = c.Seq
			if !whole && !cs.Covers(c.Subject) {
				continue // not a subject of the case: nothing is read, nothing to audit
			}
			// Each change is answered with the version it created, not the newest at
			// delivery: a subscriber resuming after a cursor sees every version in order.
			var out *PullOutcome
			if whole {
				out, err = s.Puller.pullWhole(ctx, in, c)
			} else {
				out, err = s.Puller.Pull(ctx, PullInput{Caller: in.Caller, Operator: in.Operator, RequirementID: in.RequirementID,
					MatterCode: in.MatterCode, CaseNumber: in.CaseNumber, Subjects: []string{c.Subject}, AtVersion: c.Version})
			}
			if err != nil {
				return err
			}
			if err := emit(Delivery{Change: c, IdempotencyKey: IdempotencyKey(rq.ID, in.CaseNumber, c.Seq), Outcome: out}); err != nil {
				return err
			}
		}
	}
}

func (s *Subscriber) wait(ctx context.Context, wake <-chan struct{}) error {
	poll := s.Poll
	if poll <= 0 {
		poll = 2 * time.Second
	}
	t := time.NewTimer(poll)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-wake:
	case <-t.C:
	}
	return nil
}

// Admit checks, before anything is delivered, that the subscription could deliver: the
// requirement's provision method is subscription and the pull invariants and the policy
// hold for the case's applicant. A refusal is audited like a refused pull.
func (s *Subscriber) Admit(ctx context.Context, in SubscribeInput) (*Requirement, error) {
	p := s.Puller
	a := PullAudit{PullID: NewID(), At: p.now().UTC(), Department: in.Caller.Code, Operator: in.Operator,
		Matter: in.MatterCode, Case: in.CaseNumber}
	deny := func(err error) (*Requirement, error) { return nil, p.deny(ctx, a, err) }
	if len(in.Operator) > MaxShortText || len(in.RequirementID) > 128 || len(in.MatterCode) > 64 || len(in.CaseNumber) > 64 {
		return deny(Errorf(KindInvalid, "SUBSCRIBE_REQUEST_INVALID", "ids of at most 64 (case, matter), 128 (requirement) and 256 (operator) bytes"))
	}
	if !in.Caller.HasRole(RoleConsumer) {
		return deny(Errorf(KindPermissionDenied, "ROLE_REQUIRED", "department %s does not hold the consumer role needed to subscribe", in.Caller.Code))
	}
	for _, f := range []struct{ v, name string }{{in.RequirementID, "requirement_id"}, {in.MatterCode, "matter_code"}} {
		if blank(f.v) {
			return deny(Errorf(KindInvalid, "SUBSCRIBE_REQUEST_INVALID", "%s is required: a subscription follows the subjects of one open case (or, with no case, the whole resource) under a granted requirement", f.name))
		}
	}
	rq, res, err := p.requirementAndResource(ctx, in.RequirementID, &a)
	if err != nil {
		return nil, err
	}
	f := PullFacts{Caller: in.Caller, Operator: in.Operator, Requirement: rq, Resource: res, MatterCode: in.MatterCode, CaseNumber: in.CaseNumber}
	for _, it := range rq.Items {
		if _, ok := res.Item(it); ok {
			f.Items = append(f.Items, it)
		}
	}
	a.Items = f.Items
	if f.Matter, err = p.Matters.Get(ctx, in.MatterCode); err != nil && KindOf(err) != KindNotFound {
		return nil, err
	}
	if blank(in.CaseNumber) {
		// A whole-resource subscription: no case, the whole resource in the requirement's scope.
		f.Scope = res.ScopeRegion
		if err := checkWhole(f, ProvisionSubscription); err != nil {
			return deny(err)
		}
		f.CaseNumber = wholeCase(rq.ID)
		verdict, err := p.Policy.Restrict(ctx, f)
		if err != nil {
			return nil, err
		}
		if !verdict.Allow {
			return deny(&Error{Kind: KindPermissionDenied, Reason: verdict.Reason, Msg: verdict.Message})
		}
		return rq, nil
	}
	if f.Case, err = p.Cases.Get(ctx, in.CaseNumber); err != nil && KindOf(err) != KindNotFound {
		return nil, err
	}
	if f.Case != nil && f.Case.Department == in.Caller.Code {
		f.Subjects = []string{f.Case.Applicant}
		a.Subjects = f.Subjects
	}
	if err := CheckPull(f); err != nil {
		return deny(err)
	}
	if rq.ProvisionMethod != ProvisionSubscription {
		return deny(Errorf(KindFailedPrecondition, ReasonProvisionMethod,
			"requirement %s is provided by %s, not by subscription: pull under it, or file a requirement with --provision %s", rq.ID, rq.ProvisionMethod, ProvisionSubscription))
	}
	verdict, err := p.Policy.Restrict(ctx, f)
	if err != nil {
		return nil, err
	}
	if !verdict.Allow {
		return deny(&Error{Kind: KindPermissionDenied, Reason: verdict.Reason, Msg: verdict.Message})
	}
	return rq, nil
}

// wholeCase is what the policy sees as the case of a whole-resource subscription (the
// policy requires one; the requirement's whole-resource grant stands for it).
func wholeCase(requirementID string) string { return "subscription:" + requirementID }

// pullWhole answers one change of a whole-resource subscription: the rules of a batch file
// (checkWhole, the policy), then the version the change created served and signed like a
// pull of that subject, audited like one (no case).
func (p *Puller) pullWhole(ctx context.Context, in SubscribeInput, c FeedChange) (*PullOutcome, error) {
	now := p.now().UTC()
	a := PullAudit{PullID: NewID(), At: now, Department: in.Caller.Code, Operator: in.Operator, Matter: in.MatterCode,
		Subjects: []string{NormalizeSubject(c.Subject)}}
	deny := func(err error) (*PullOutcome, error) { return nil, p.deny(ctx, a, err) }
	rq, res, err := p.requirementAndResource(ctx, in.RequirementID, &a)
	if err != nil {
		return nil, err
	}
	f := PullFacts{Caller: in.Caller, Operator: in.Operator, Requirement: rq, Resource: res, MatterCode: in.MatterCode, Scope: res.ScopeRegion}
	f.Items = slices.DeleteFunc(slices.Clone(rq.Items), func(it string) bool { _, ok := res.Item(it); return !ok })
	a.Items = f.Items
	if f.Matter, err = p.Matters.Get(ctx, in.MatterCode); err != nil && KindOf(err) != KindNotFound {
		return nil, err
	}
	if err := checkWhole(f, ProvisionSubscription); err != nil {
		return deny(err)
	}
	f.CaseNumber = wholeCase(rq.ID)
	verdict, err := p.Policy.Restrict(ctx, f)
	if err != nil {
		return nil, err
	}
	if !verdict.Allow {
		return deny(&Error{Kind: KindPermissionDenied, Reason: verdict.Reason, Msg: verdict.Message})
	}
	result := &PullResult{PullID: a.PullID, RequirementID: rq.ID, Consumer: in.Caller.Code, Operator: in.Operator,
		Resource: res.Code, Provider: res.Provider, MatterCode: in.MatterCode, Items: f.Items, AsOf: now,
		Freshness: p.Freshness.FreshnessOf(ctx, res, now), PolicyVersion: verdict.Version}
	disclose := NewDisclosure(rq, res, f.Items)
	result.Masked = disclose.Masked()
	rec, err := p.Versions.Version(ctx, res.Code, c.Subject, c.Version)
	switch {
	case KindOf(err) == KindNotFound || (err == nil && rec.Deleted):
		result.NotFound = []string{c.Subject}
	case err != nil:
		return nil, err
	default:
		pr, err := p.Serve(ctx, rec, f.Items, disclose)
		if KindOf(err) == KindDataLoss {
			return deny(err)
		}
		if err != nil {
			return nil, err
		}
		result.Records = []PulledRecord{pr}
	}
	signed, err := p.Signer.SignPull(ctx, result)
	if err != nil {
		return nil, fmt.Errorf("sign pull result: %w", err)
	}
	a.Granted, a.Reason, a.Digest = true, ReasonGranted+": whole-resource subscription: "+verdict.Message+disclose.Note(), signed.Digest
	refs, err := p.audit(ctx, a)
	if err != nil {
		return nil, err
	}
	return &PullOutcome{Result: result, Signed: signed, AuditRefs: refs}, nil
}
