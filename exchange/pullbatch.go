package exchange

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// PullBatchEntry is one subject of a batch pull with its purpose: the requirement, the
// matter and the consumer's case concerning the subject.
type PullBatchEntry struct {
	RequirementID string
	MatterCode    string
	CaseNumber    string
	Subject       string
}

// PullBatchInput is a batch pull as the consuming department asked for it: 1 to
// MaxPullSubjects entries, the items wanted for each (empty: every approved item), fresh
// only, and the operator.
type PullBatchInput struct {
	Caller    *Department
	Operator  string
	Entries   []PullBatchEntry
	Items     []string
	FreshOnly bool
}

// PullBatchOutcome is the answer for one entry: granted with the result a single pull of
// the subject would sign, or refused with the reason that single pull would be refused for.
type PullBatchOutcome struct {
	Entry   PullBatchEntry
	Granted bool
	Reason  string
	Message string
	Result  *PullResult
}

// PullBatchResult is what the hub signs for a batch pull.
type PullBatchResult struct {
	BatchID  string
	Consumer string
	Operator string
	AsOf     time.Time
	Entries  []PullBatchOutcome
}

// PullBatchAnswer is an answered batch pull: the result, its one signature and one audit
// record per entry (request order).
type PullBatchAnswer struct {
	Result    *PullBatchResult
	Signed    SignedPull
	AuditRefs []uint64
}

type (
	// PullBatchSigner signs a batch result as the hub.
	PullBatchSigner interface {
		SignPullBatch(ctx context.Context, r *PullBatchResult) (SignedPull, error)
	}
	// RecordBatchReader reads the newest version of many subjects of a resource at once
	// (subjects without a record are absent).
	RecordBatchReader interface {
		LatestMany(ctx context.Context, resource string, subjects []string) (map[string]*Record, error)
	}
	// CaseBatchReader reads many cases at once (numbers without a case are absent).
	CaseBatchReader interface {
		GetMany(ctx context.Context, numbers []string) (map[string]*Case, error)
	}
	// PullBatchAuditor appends the audit records of many pulls at once (one group
	// commit) and returns their indices in order, one per record (each PullAudit names
	// one subject). A PullAuditor without it gets the pulls one by one.
	PullBatchAuditor interface {
		AuditPulls(ctx context.Context, as []PullAudit) ([]uint64, error)
	}
)

// PullBatch answers a batch pull. Each entry is decided exactly as Pull decides a pull of
// its one subject — the same invariants in the same order (CheckPull), then the policy,
// freshness and the record's integrity — so a batch can never obtain what the single
// pulls would not: an entry a single pull would refuse is refused here with the same
// reason, and audited. What the batch shares is the cost: one request signature (checked
// before this is called), lookups of the same requirement, resource and matter once, one
// signature over the whole answer and one group commit of every entry's audit record,
// all appended before anything is returned. A refusal of the whole batch (no consumer
// role, malformed request) is audited as one record without subject.
func (p *Puller) PullBatch(ctx context.Context, in PullBatchInput) (*PullBatchAnswer, error) {
	now := p.now().UTC()
	batchID := NewID()
	whole := PullAudit{PullID: batchID, At: now, Department: in.Caller.Code}
	if !in.Caller.HasRole(RoleConsumer) {
		return nil, p.deny(ctx, whole, Errorf(KindPermissionDenied, "ROLE_REQUIRED", "department %s does not hold the consumer role needed to pull data", in.Caller.Code))
	}
	if len(in.Entries) == 0 || len(in.Entries) > MaxPullSubjects || len(in.Items) > 256 || len(in.Operator) > MaxShortText ||
		slices.ContainsFunc(in.Items, func(s string) bool { return len(s) > 64 }) {
		return nil, p.deny(ctx, whole, Errorf(KindInvalid, "PULL_REQUEST_INVALID",
			"a batch pull names 1 to %d entries and at most 256 items of at most 64 bytes each; got %d entries", MaxPullSubjects, len(in.Entries)))
	}
	whole.Operator, whole.Items = in.Operator, in.Items
	bs, ok := p.Signer.(PullBatchSigner)
	if !ok {
		return nil, Errorf(KindUnavailable, "PULL_BATCH_UNAVAILABLE", "this hub's signer cannot sign batch pulls: pull the subjects one by one")
	}
	b := &batchLookups{p: p, now: now, reqs: map[string]lookup[*Requirement]{}, res: map[string]*Resource{},
		matters: map[string]*Matter{}, fresh: map[string]Freshness{}}
	if err := b.prefetchCases(ctx, in.Entries); err != nil {
		return nil, err
	}
	result := &PullBatchResult{BatchID: batchID, Consumer: in.Caller.Code, Operator: in.Operator, AsOf: now,
		Entries: make([]PullBatchOutcome, len(in.Entries))}
	audits := make([]PullAudit, len(in.Entries))
	pending := make([]*pendingEntry, len(in.Entries))
	// refuse records entry i's refusal, or returns the error when it is not one (the
	// store failed: nothing is answered).
	refuse := func(i int, err error) error {
		var de *Error
		if errors.As(err, &de) && de.Kind != KindUnavailable && de.Kind != KindInternal {
			result.Entries[i].Reason, result.Entries[i].Message = de.Reason, err.Error()
			audits[i].Reason = de.Reason + ": " + err.Error()
			return nil
		}
		return err
	}
	for i, e := range in.Entries {
		audits[i] = PullAudit{PullID: batchID, At: now, Department: in.Caller.Code, Operator: in.Operator, Items: in.Items,
			Matter: e.MatterCode, Case: e.CaseNumber, Subjects: []string{NormalizeSubject(e.Subject)}}
		result.Entries[i].Entry = e
		pe, err := b.entry(ctx, in, e, &audits[i])
		if err != nil {
			if err := refuse(i, err); err != nil {
				return nil, err
			}
			continue
		}
		pending[i] = pe
	}
	// The records of the entries allowed so far, read together per resource.
	recs, err := b.records(ctx, pending)
	if err != nil {
		return nil, err
	}
	for i, pe := range pending {
		if pe == nil {
			continue
		}
		if err := b.serve(ctx, pe, recs[pe.result.Resource]); err != nil {
			if err := refuse(i, err); err != nil {
				return nil, err
			}
			continue
		}
		result.Entries[i].Granted, result.Entries[i].Result, result.Entries[i].Reason = true, pe.result, ReasonGranted
		audits[i].Granted, audits[i].Reason = true, ReasonGranted+": "+pe.note
	}
	signed, err := bs.SignPullBatch(ctx, result)
	if err != nil {
		return nil, fmt.Errorf("sign batch pull result: %w", err)
	}
	for i := range audits {
		if audits[i].Granted {
			audits[i].Digest = signed.Digest
		}
	}
	refs, err := p.auditMany(ctx, audits)
	if err != nil {
		return nil, err
	}
	return &PullBatchAnswer{Result: result, Signed: signed, AuditRefs: refs}, nil
}

// lookup is a remembered read: its value or its error.
type lookup[T any] struct {
	v   T
	err error
}

// batchLookups remembers, for one batch, what its entries share: requirements, resources,
// matters and freshness (read once per batch, at the same instant for every entry).
// Cases, records and the policy are asked per entry.
type batchLookups struct {
	p       *Puller
	now     time.Time
	reqs    map[string]lookup[*Requirement]
	res     map[string]*Resource
	matters map[string]*Matter
	fresh   map[string]Freshness
	cases   map[string]*Case // prefetched (nil: read per entry)
}

// pendingEntry is an entry every check allowed, waiting for its record.
type pendingEntry struct {
	subject  string
	items    []string
	disclose *Disclosure
	result   *PullResult
	note     string
}

// prefetchCases reads the cases the entries name in one go, when the reader can.
func (b *batchLookups) prefetchCases(ctx context.Context, entries []PullBatchEntry) error {
	cr, ok := b.p.Cases.(CaseBatchReader)
	if !ok {
		return nil
	}
	seen := map[string]bool{}
	var numbers []string
	for _, e := range entries {
		if !blank(e.CaseNumber) && len(e.CaseNumber) <= 64 && !seen[e.CaseNumber] {
			seen[e.CaseNumber] = true
			numbers = append(numbers, e.CaseNumber)
		}
	}
	m, err := cr.GetMany(ctx, numbers)
	if err != nil {
		return err
	}
	b.cases = m
	return nil
}

// records reads the newest version of every pending entry's subject, per resource; a
// subject without a record is absent.
func (b *batchLookups) records(ctx context.Context, pending []*pendingEntry) (map[string]map[string]*Record, error) {
	out := map[string]map[string]*Record{}
	subjects := map[string][]string{}
	for _, pe := range pending {
		if pe != nil {
			subjects[pe.result.Resource] = append(subjects[pe.result.Resource], pe.subject)
		}
	}
	for res, ss := range subjects {
		m := map[string]*Record{}
		if rr, ok := b.p.Records.(RecordBatchReader); ok {
			var err error
			if m, err = rr.LatestMany(ctx, res, ss); err != nil {
				return nil, err
			}
		} else {
			for _, s := range ss {
				rec, err := b.p.Records.Latest(ctx, res, s)
				if KindOf(err) == KindNotFound {
					continue
				}
				if err != nil {
					return nil, err
				}
				m[s] = rec
			}
		}
		out[res] = m
	}
	return out, nil
}

// serve completes a pending entry with its record, checked by the voucher exactly as in a
// single pull (Serve), or as not found.
func (b *batchLookups) serve(ctx context.Context, pe *pendingEntry, recs map[string]*Record) error {
	rec, ok := recs[pe.subject]
	if !ok || rec.Deleted {
		pe.result.NotFound = []string{pe.subject}
		return nil
	}
	pr, err := b.p.Serve(ctx, rec, pe.items, pe.disclose)
	if err != nil {
		return err
	}
	pe.result.Records = []PulledRecord{pr}
	return nil
}

// entry decides one entry as a single pull of its subject up to its record: it returns
// the pending entry, or the refusal (an *Error) or a store failure.
func (b *batchLookups) entry(ctx context.Context, in PullBatchInput, e PullBatchEntry, a *PullAudit) (*pendingEntry, error) {
	p := b.p
	invalid := func(reason, format string, args ...any) (*pendingEntry, error) {
		return nil, Errorf(KindInvalid, reason, format, args...)
	}
	switch {
	case len(e.CaseNumber) > 64 || len(e.MatterCode) > 64 || len(e.RequirementID) > 128 || len(e.Subject) > 64:
		return invalid("PULL_REQUEST_INVALID", "an entry's ids are at most 64 (case, matter, subject) and 128 (requirement) bytes")
	case blank(e.RequirementID):
		return invalid("REQUIREMENT_MISSING", "requirement_id is required: pulls are made under a granted requirement")
	case blank(e.MatterCode):
		return invalid("MATTER_CODE_MISSING", "matter_code (事项编码) is required: every pull is bound to the matter it serves")
	case blank(e.CaseNumber):
		return invalid(ReasonCaseNumberMissing, "case_number (办件编码) is required: every pull serves an open case of your department (gxctl case open)")
	case blank(e.Subject):
		return invalid("SUBJECTS_INVALID", "every entry names one subject")
	}
	rl, ok := b.reqs[e.RequirementID]
	if !ok {
		rl.v, rl.err = p.Requirements.Get(ctx, e.RequirementID)
		b.reqs[e.RequirementID] = rl
	}
	if KindOf(rl.err) == KindNotFound {
		return nil, Errorf(KindNotFound, "REQUIREMENT_NOT_FOUND", "no requirement %s: file one, or use the id the hub returned", e.RequirementID)
	} else if rl.err != nil {
		return nil, rl.err
	}
	rq := rl.v
	a.Resource = rq.Resource
	res, ok := b.res[rq.Resource]
	if !ok {
		var err error
		if res, err = p.Catalog.Get(ctx, rq.Resource, 0); err != nil {
			return nil, err
		}
		b.res[rq.Resource] = res
	}
	f := PullFacts{Caller: in.Caller, Operator: in.Operator, Requirement: rq, Resource: res, MatterCode: e.MatterCode,
		CaseNumber: e.CaseNumber, Items: in.Items, Subjects: a.Subjects}
	if len(f.Items) == 0 {
		f.Items = slices.DeleteFunc(slices.Clone(rq.Items), func(it string) bool { _, ok := res.Item(it); return !ok })
	}
	a.Items = f.Items
	mt, ok := b.matters[e.MatterCode]
	if !ok {
		var err error
		if mt, err = p.Matters.Get(ctx, e.MatterCode); err != nil && KindOf(err) != KindNotFound {
			return nil, err
		}
		b.matters[e.MatterCode] = mt
	}
	f.Matter = mt
	if b.cases != nil {
		f.Case = b.cases[e.CaseNumber]
	} else if c, err := p.Cases.Get(ctx, e.CaseNumber); err != nil && KindOf(err) != KindNotFound {
		return nil, err
	} else if err == nil {
		f.Case = c
	}
	if err := CheckPull(f); err != nil {
		return nil, err
	}
	verdict, err := p.Policy.Restrict(ctx, f)
	if err != nil {
		return nil, err
	}
	if !verdict.Allow {
		return nil, &Error{Kind: KindPermissionDenied, Reason: verdict.Reason, Msg: verdict.Message}
	}
	fr, ok := b.fresh[res.Code]
	if !ok {
		fr = p.Freshness.FreshnessOf(ctx, res, b.now)
		b.fresh[res.Code] = fr
	}
	if in.FreshOnly && fr.Stale {
		return nil, StaleError(fr)
	}
	result := &PullResult{PullID: a.PullID, RequirementID: rq.ID, Consumer: in.Caller.Code, Operator: in.Operator,
		Resource: res.Code, Provider: res.Provider, MatterCode: e.MatterCode, CaseNumber: e.CaseNumber,
		Items: f.Items, AsOf: b.now, Freshness: fr, PolicyVersion: verdict.Version}
	disclose := NewDisclosure(rq, res, f.Items)
	result.Masked = disclose.Masked()
	return &pendingEntry{subject: f.Subjects[0], items: f.Items, disclose: disclose, result: result, note: verdict.Message + disclose.Note()}, nil
}

// auditMany appends the audit records of a batch, one per entry, in one group commit when
// the auditor can.
func (p *Puller) auditMany(ctx context.Context, as []PullAudit) ([]uint64, error) {
	if p.Audit == nil {
		return nil, Errorf(KindUnavailable, "AUDIT_UNAVAILABLE", "no audit log is configured: pulls are refused without an audit trail")
	}
	wrap := func(err error) error {
		return Wrap(KindUnavailable, "AUDIT_UNAVAILABLE", err, "the audit log could not record this batch pull, so no data is returned: try again")
	}
	if ba, ok := p.Audit.(PullBatchAuditor); ok {
		refs, err := ba.AuditPulls(ctx, as)
		if err != nil {
			return nil, wrap(err)
		}
		return refs, nil
	}
	refs := make([]uint64, len(as))
	errs := make([]error, len(as))
	var wg sync.WaitGroup
	for i := range as {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := p.Audit.AuditPull(ctx, as[i])
			if err == nil && len(r) == 1 {
				refs[i] = r[0]
			} else if err == nil {
				err = fmt.Errorf("audit of entry %d returned %d records, want 1", i+1, len(r))
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, wrap(err)
	}
	return refs, nil
}
