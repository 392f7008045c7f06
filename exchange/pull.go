package exchange

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// MaxPullSubjects bounds one pull (a batch pull names several subjects of one case).
const MaxPullSubjects = 1000

// Stable reasons of pull refusals (D2). The policy (casbin) uses the same words for the rules
// it keeps; the invariants below hold whatever the policy says.
const (
	ReasonGranted             = "GRANTED"
	ReasonRequirementForeign  = "REQUIREMENT_OF_ANOTHER_DEPARTMENT"
	ReasonRequirementRevoked  = "REQUIREMENT_REVOKED"
	ReasonRequirementNotGrant = "REQUIREMENT_NOT_GRANTED"
	ReasonNotShared           = "NOT_SHARED"
	ReasonResourceWithdrawn   = "RESOURCE_WITHDRAWN"
	ReasonMatterUnknown       = "MATTER_UNKNOWN"
	ReasonPurposeNotCovered   = "PURPOSE_NOT_COVERED"
	ReasonCaseNumberMissing   = "CASE_NUMBER_MISSING"
	ReasonCaseNotFound        = "CASE_NOT_FOUND"
	ReasonCaseForeign         = "CASE_OF_ANOTHER_DEPARTMENT"
	ReasonCaseMatterMismatch  = "CASE_MATTER_MISMATCH"
	ReasonCaseClosed          = "CASE_CLOSED"
	ReasonCaseSubjectMismatch = "CASE_SUBJECT_MISMATCH"
	ReasonDataItemNotApproved = "DATA_ITEM_NOT_APPROVED"
	ReasonDataItemWithdrawn   = "DATA_ITEM_WITHDRAWN"
	ReasonScopeMismatch       = "SCOPE_MISMATCH"
	ReasonVerifyOnly          = "REQUIREMENT_VERIFY_ONLY"
)

// PullInput is one pull as the consuming department asked for it. Caller is the
// authenticated department; Operator the person inside it (empty: the department's own key).
type PullInput struct {
	Caller        *Department
	Operator      string
	RequirementID string
	MatterCode    string
	CaseNumber    string
	Subjects      []string
	Items         []string // empty: every granted item the resource still has
	FreshOnly     bool
	ScopeRegion   string // empty: the case's region
	// AtVersion, with one subject, serves that version of its record instead of the
	// newest (a subscription delivers the version each change created).
	AtVersion int64
}

// PulledRecord is one subject's approved data with its provenance.
type PulledRecord struct {
	Subject     string
	Version     int64
	Fields      map[string]string
	PublishedAt time.Time
	Batch       string
	// Vouch ties the served items to the publish audit record of the version's batch.
	Vouch *Vouch
}

// Vouch is what lets a consumer or an auditor check offline that the items served are
// exactly those the provider published (docs/AUDIT.md, "Record integrity"): the version's
// digest is recomputed from the served items with their Salts and the Withheld commitments
// of the items not served, the Path proves it as leaf Position of BatchSize to a root, and
// that root with EvidenceDigest (SM3 of the provider's signed publish request) gives the
// response digest of audit record PublishRecord, the batch's publish record.
type Vouch struct {
	PublishRecord  uint64
	EvidenceDigest []byte
	Position       uint64
	BatchSize      uint64
	Path           [][]byte
	Salts          map[string][]byte // per served item: the item's salt
	Withheld       map[string][]byte // per item of the version not served: its commitment
}

// ReasonDataIntegrity is the refusal of a pull whose stored data no longer matches what its
// provider published (the record was altered in the hub's database).
const ReasonDataIntegrity = "DATA_INTEGRITY"

// PullResult is what the hub signs and returns for a granted pull.
type PullResult struct {
	PullID        string
	RequirementID string
	Consumer      string
	Operator      string
	Resource      string
	Provider      string
	MatterCode    string
	CaseNumber    string
	Items         []string
	// Masked are the items whose values are masked (Disclosure), in the order of Items.
	Masked        []string
	AsOf          time.Time
	Records       []PulledRecord
	NotFound      []string
	Freshness     Freshness
	PolicyVersion int64
}

// SignedPull is a result as signed by the hub: the exact bytes, the signature over them and
// their SM3 digest (bound into every audit record of the pull).
type SignedPull struct {
	Payload   []byte
	Signature []byte
	Digest    []byte
}

// PullOutcome is a granted pull: the result, its signature and its audit records.
type PullOutcome struct {
	Result    *PullResult
	Signed    SignedPull
	AuditRefs []uint64
}

// PullAudit is what the audit trail records of one pull, granted or refused: one record per
// subject (the auditor port keys each subject; the plain identifier is kept nowhere).
type PullAudit struct {
	PullID     string
	At         time.Time
	Department string
	Operator   string
	Resource   string
	Items      []string
	Matter     string
	Case       string
	Subjects   []string // empty or too many: one subject-less record
	Granted    bool
	Reason     string // "REASON: words"
	Digest     []byte // SM3 of the signed payload (granted pulls)
}

// PullFacts is everything the pull invariants decide on. Matter and Case are nil when the
// named matter is not registered or the case does not exist.
type PullFacts struct {
	Caller      *Department
	Operator    string
	Requirement *Requirement
	Resource    *Resource
	MatterCode  string
	Matter      *Matter
	CaseNumber  string
	Case        *Case
	Items       []string // asked, after defaulting
	Scope       string   // the region asked for ("" = the case's)
	Subjects    []string // normalized
}

// PolicyVerdict is the policy's answer: it may only restrict what the invariants allow.
type PolicyVerdict struct {
	Allow   bool
	Reason  string
	Message string
	Version int64
}

// Ports of the Puller. The store, the policy engine, the hub's signing key and the audit log
// implement them in adapter packages.
type (
	// RequirementReader reads a requirement with its decisions.
	RequirementReader interface {
		Get(ctx context.Context, id string) (*Requirement, error)
	}
	// ResourceReader reads a catalogue entry (version 0: the current one).
	ResourceReader interface {
		Get(ctx context.Context, code string, version int) (*Resource, error)
	}
	// RecordReader reads a subject's newest record version.
	RecordReader interface {
		Latest(ctx context.Context, resource, subject string) (*Record, error)
	}
	// CaseReader reads a case (ErrNotFound when there is none).
	CaseReader interface {
		Get(ctx context.Context, number string) (*Case, error)
	}
	// MatterReader reads a registered matter (ErrNotFound when not registered).
	MatterReader interface {
		Get(ctx context.Context, code string) (*Matter, error)
	}
	// FreshnessReader says how stale a resource is at now.
	FreshnessReader interface {
		FreshnessOf(ctx context.Context, r *Resource, now time.Time) Freshness
	}
	// PullPolicy restricts pulls further (operator roles, suspensions, volume limits, time
	// windows); it is asked only after every invariant holds and cannot widen them.
	PullPolicy interface {
		Restrict(ctx context.Context, f PullFacts) (PolicyVerdict, error)
	}
	// PullSigner signs a result as the hub.
	PullSigner interface {
		SignPull(ctx context.Context, r *PullResult) (SignedPull, error)
	}
	// RecordVoucher checks a stored record version against the publish audit record of its
	// batch (its digest recomputed from the stored data) and returns the vouch for the items
	// to be served. Data that does not match is an *Error with reason ReasonDataIntegrity
	// (kind KindDataLoss).
	RecordVoucher interface {
		Vouch(ctx context.Context, r *Record, items []string) (*Vouch, error)
	}
	// PullAuditor appends a pull's audit records and returns their indices in subject order.
	PullAuditor interface {
		AuditPull(ctx context.Context, a PullAudit) ([]uint64, error)
	}
)

// Puller is the pull use case (REQUIREMENTS A3, A6, A8, A10). Before any policy it checks,
// in code: the requirement is the caller's, granted and not revoked; the resource is shared
// and still catalogued; the matter is registered and covered by the requirement; the case is
// the caller's, open, for that matter, and every subject is its applicant or a declared
// party; the items are approved and still catalogued; the region is in scope. Only then may
// the policy refuse further. Every pull, granted or refused, is audited before it is answered.
type Puller struct {
	Requirements RequirementReader
	Catalog      ResourceReader
	Records      RecordReader
	Cases        CaseReader
	Matters      MatterReader
	Freshness    FreshnessReader
	Policy       PullPolicy
	Signer       PullSigner
	Voucher      RecordVoucher
	// Versions reads the record version a change created (batch files, subscriptions).
	Versions     VersionReader
	VerifySigner VerifySigner
	Audit        PullAuditor
	Now          func() time.Time
}

func (p *Puller) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// NewID returns a random 128-bit id in hex (pulls, objections, proposals).
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Pull answers one pull: the signed result and its audit references, or a refusal with a
// stable reason (an *Error), audited too.
func (p *Puller) Pull(ctx context.Context, in PullInput) (*PullOutcome, error) {
	now := p.now().UTC()
	a := PullAudit{PullID: NewID(), At: now, Department: in.Caller.Code}
	if oversized(in) {
		// Nothing of an oversized request is recorded but the attempt itself.
		return nil, p.deny(ctx, a, Errorf(KindInvalid, "PULL_REQUEST_INVALID",
			"a pull names 1 to %d subjects and at most 256 items, each at most 64 bytes, and ids of at most 64 (case, matter), 128 (requirement) and 256 (operator) bytes", MaxPullSubjects))
	}
	a.Operator, a.Items, a.Matter, a.Case = in.Operator, in.Items, in.MatterCode, in.CaseNumber
	if n := len(in.Subjects); n > 0 {
		a.Subjects = make([]string, n)
		for i, s := range in.Subjects {
			a.Subjects[i] = NormalizeSubject(s)
		}
	}
	deny := func(err error) (*PullOutcome, error) { return nil, p.deny(ctx, a, err) }
	bad := func(reason, format string, args ...any) (*PullOutcome, error) {
		return deny(Errorf(KindInvalid, reason, format, args...))
	}
	if !in.Caller.HasRole(RoleConsumer) {
		return deny(Errorf(KindPermissionDenied, "ROLE_REQUIRED", "department %s does not hold the consumer role needed to pull data", in.Caller.Code))
	}
	if blank(in.RequirementID) {
		return bad("REQUIREMENT_MISSING", "requirement_id is required: pulls are made under a granted requirement")
	}
	if blank(in.MatterCode) {
		return bad("MATTER_CODE_MISSING", "matter_code (事项编码) is required: every pull is bound to the matter it serves")
	}
	if blank(in.CaseNumber) {
		return bad(ReasonCaseNumberMissing, "case_number (办件编码) is required: every pull serves an open case of your department (gxctl case open)")
	}
	if len(in.Subjects) == 0 {
		return bad("SUBJECTS_INVALID", "a pull names 1 to %d subjects, got none", MaxPullSubjects)
	}
	rq, res, err := p.requirementAndResource(ctx, in.RequirementID, &a)
	if err != nil {
		return nil, err
	}
	f := PullFacts{Caller: in.Caller, Operator: in.Operator, Requirement: rq, Resource: res, MatterCode: in.MatterCode,
		CaseNumber: in.CaseNumber, Items: in.Items, Scope: in.ScopeRegion, Subjects: a.Subjects}
	if len(f.Items) == 0 {
		f.Items = slices.DeleteFunc(slices.Clone(rq.Items), func(it string) bool { _, ok := res.Item(it); return !ok })
	}
	a.Items = f.Items
	if f.Matter, err = p.Matters.Get(ctx, in.MatterCode); err != nil && KindOf(err) != KindNotFound {
		return nil, err
	}
	if f.Case, err = p.Cases.Get(ctx, in.CaseNumber); err != nil && KindOf(err) != KindNotFound {
		return nil, err
	}
	if err := CheckPull(f); err != nil {
		return deny(err)
	}
	verdict, err := p.Policy.Restrict(ctx, f)
	if err != nil {
		return nil, err
	}
	if !verdict.Allow {
		return deny(&Error{Kind: KindPermissionDenied, Reason: verdict.Reason, Msg: verdict.Message})
	}
	fr := p.Freshness.FreshnessOf(ctx, res, now)
	if in.FreshOnly && fr.Stale {
		return deny(StaleError(fr))
	}
	result := &PullResult{PullID: a.PullID, RequirementID: rq.ID, Consumer: in.Caller.Code, Operator: in.Operator,
		Resource: res.Code, Provider: res.Provider, MatterCode: in.MatterCode, CaseNumber: in.CaseNumber,
		Items: f.Items, AsOf: now, Freshness: fr, PolicyVersion: verdict.Version}
	disclose := NewDisclosure(rq, res, f.Items)
	result.Masked = disclose.Masked()
	if in.AtVersion > 0 && (len(f.Subjects) != 1 || p.Versions == nil) {
		return nil, Errorf(KindInvalid, "PULL_REQUEST_INVALID", "a pull at a version names exactly one subject")
	}
	for _, s := range f.Subjects {
		var rec *Record
		if in.AtVersion > 0 {
			rec, err = p.Versions.Version(ctx, res.Code, s, in.AtVersion)
		} else {
			rec, err = p.Records.Latest(ctx, res.Code, s)
		}
		if KindOf(err) == KindNotFound || (err == nil && rec.Deleted) {
			result.NotFound = append(result.NotFound, s)
			continue
		}
		if err != nil {
			return nil, err
		}
		pr, err := p.Serve(ctx, rec, f.Items, disclose)
		var de *Error
		if errors.As(err, &de) {
			return deny(err)
		}
		if err != nil {
			return nil, err
		}
		result.Records = append(result.Records, pr)
	}
	signed, err := p.Signer.SignPull(ctx, result)
	if err != nil {
		return nil, fmt.Errorf("sign pull result: %w", err)
	}
	a.Granted, a.Reason, a.Digest = true, ReasonGranted+": "+verdict.Message+disclose.Note(), signed.Digest
	refs, err := p.audit(ctx, a)
	if err != nil {
		return nil, err
	}
	return &PullOutcome{Result: result, Signed: signed, AuditRefs: refs}, nil
}

// Serve prepares one stored record version for a consumer: its items among those given,
// after the voucher has checked the stored data against what the provider published. Every
// way of delivering records goes through here, before anything is selected, masked or
// signed: nothing altered in the database reaches a consumer under the hub's signature.
func (p *Puller) Serve(ctx context.Context, rec *Record, items []string, disclose *Disclosure) (PulledRecord, error) {
	if p.Voucher == nil {
		return PulledRecord{}, Errorf(KindUnavailable, "RECORD_VOUCHER_MISSING", "no record voucher is configured: records are served only after they are checked against their publish record")
	}
	// The digest is checked over what the provider published; masked items are then served
	// masked, vouched for like withheld items (by their commitments), so that the consumer
	// can still check the clear items offline.
	clear := items
	if disclose != nil && len(disclose.Masked()) > 0 {
		clear = slices.DeleteFunc(slices.Clone(items), func(it string) bool { return slices.Contains(disclose.Masked(), it) })
	}
	v, err := p.Voucher.Vouch(ctx, rec, clear)
	if err != nil {
		return PulledRecord{}, err
	}
	pr := PulledRecord{Subject: rec.Subject, Version: rec.Version, PublishedAt: rec.PublishedAt, Batch: rec.Batch, Vouch: v}
	if disclose != nil {
		pr.Fields = disclose.Fields(rec.Fields, items)
	} else {
		pr.Fields = map[string]string{}
		for _, it := range items {
			if v, ok := rec.Fields[it]; ok {
				pr.Fields[it] = v
			}
		}
	}
	return pr, nil
}

// oversized reports a request beyond the bounds of a pull.
func oversized(in PullInput) bool {
	if len(in.Subjects) > MaxPullSubjects || len(in.Items) > 256 || len(in.CaseNumber) > 64 || len(in.MatterCode) > 64 ||
		len(in.Operator) > MaxShortText || len(in.RequirementID) > 128 {
		return true
	}
	long := func(s string) bool { return len(s) > 64 }
	return slices.ContainsFunc(in.Items, long) || slices.ContainsFunc(in.Subjects, long)
}

func (p *Puller) audit(ctx context.Context, a PullAudit) ([]uint64, error) {
	if p.Audit == nil {
		return nil, Errorf(KindUnavailable, "AUDIT_UNAVAILABLE", "no audit log is configured: pulls are refused without an audit trail")
	}
	refs, err := p.Audit.AuditPull(ctx, a)
	if err != nil {
		return nil, Wrap(KindUnavailable, "AUDIT_UNAVAILABLE", err, "the audit log could not record this pull, so no data is returned: try again")
	}
	return refs, nil
}

// deny audits a refusal and returns it (or the audit failure).
// requirementAndResource reads the requirement a pull, subscription or verification names
// and the catalogue entry it is on, and records the resource in the audit. An unknown
// requirement is a refusal, audited like every other; a storage failure is the hub's error.
func (p *Puller) requirementAndResource(ctx context.Context, id string, a *PullAudit) (*Requirement, *Resource, error) {
	rq, err := p.Requirements.Get(ctx, id)
	if KindOf(err) == KindNotFound {
		return nil, nil, p.deny(ctx, *a, Errorf(KindNotFound, "REQUIREMENT_NOT_FOUND", "no requirement %s: file one, or use the id the hub returned", id))
	} else if err != nil {
		return nil, nil, err
	}
	a.Resource = rq.Resource
	res, err := p.Catalog.Get(ctx, rq.Resource, 0)
	if err != nil {
		return nil, nil, err
	}
	return rq, res, nil
}

func (p *Puller) deny(ctx context.Context, a PullAudit, err error) error {
	reason := "INVALID"
	var de *Error
	if errors.As(err, &de) {
		reason = de.Reason
	}
	a.Granted, a.Reason, a.Digest = false, reason+": "+err.Error(), nil
	if _, aerr := p.audit(ctx, a); aerr != nil {
		return aerr
	}
	return err
}

// CheckPull checks the pull invariants, in a fixed order so that a refusal always names the
// first rule broken. They hold whatever the policy or the catalogue's free fields say. A
// verify-only requirement is never pulled under.
func CheckPull(f PullFacts) error { return checkUse(f, false) }

// CheckVerify checks a verification (核验) by the pull invariants, under a verify-only
// requirement or a pull requirement alike: a verification discloses less than a pull.
func CheckVerify(f PullFacts) error { return checkUse(f, true) }

func checkUse(f PullFacts, verify bool) error {
	if err := checkGrant(f, verify); err != nil {
		return err
	}
	denied := func(reason, format string, args ...any) error {
		return Errorf(KindPermissionDenied, reason, format, args...)
	}
	rq, res := f.Requirement, f.Resource
	switch {
	case f.Case == nil:
		return denied(ReasonCaseNotFound, "no case %s is open at the hub: open it first (gxctl case open --matter %s --number %s --applicant ID)", f.CaseNumber, f.MatterCode, f.CaseNumber)
	case f.Case.Department != f.Caller.Code:
		return denied(ReasonCaseForeign, "case %s is handled by department %s, not by %s: a department pulls only for its own cases", f.Case.Number, f.Case.Department, f.Caller.Code)
	case f.Case.Matter != f.MatterCode:
		return denied(ReasonCaseMatterMismatch, "case %s is for matter %s, not %s (一企一事一码: one case, one matter)", f.Case.Number, f.Case.Matter, f.MatterCode)
	case f.Case.State != CaseOpen:
		return denied(ReasonCaseClosed, "case %s is %s: nothing is pulled for a case that is no longer open", f.Case.Number, f.Case.State)
	}
	if err := checkItems(f); err != nil {
		return err
	}
	scope := f.Case.Region
	if f.Scope != "" && f.Scope != scope {
		return denied(ReasonScopeMismatch, "the pull names region %s but case %s belongs to region %s", f.Scope, f.Case.Number, scope)
	}
	if !RegionCovers(rq.ScopeRegion, scope) || !RegionCovers(res.ScopeRegion, scope) {
		return denied(ReasonScopeMismatch, "the case region %s is outside the scope %s requirement %s was granted for (resource scope %s)", scope, rq.ScopeRegion, rq.ID, res.ScopeRegion)
	}
	for i, s := range f.Subjects {
		if err := ValidateSubject(res.SubjectKind, s); err != nil {
			return Errorf(KindInvalid, "SUBJECT_INVALID", "subject %d (%q) is not a valid %s: %v", i+1, s, res.SubjectKind, err)
		}
		if !f.Case.Covers(s) {
			return denied(ReasonCaseSubjectMismatch, "subject %d (%s) is neither the applicant nor a declared party of case %s: a case pulls only the data of those it concerns", i+1, s, f.Case.Number)
		}
	}
	return nil
}

// SharingOrdered reports whether the coordinator ordered sharing for the requirement
// (order_share): a not-shared resource may then be pulled under it.
func (r *Requirement) SharingOrdered() bool {
	return slices.ContainsFunc(r.Decisions, func(d Decision) bool { return d.Action == ActOrderShare })
}

// checkGrant checks the rules of a use of data that concern the requirement, the resource
// and the matter (not the case), in their fixed order.
func checkGrant(f PullFacts, verify bool) error {
	denied := func(reason, format string, args ...any) error {
		return Errorf(KindPermissionDenied, reason, format, args...)
	}
	rq, res := f.Requirement, f.Resource
	switch {
	case !f.Caller.HasRole(RoleConsumer):
		return denied("ROLE_REQUIRED", "department %s does not hold the consumer role needed to pull data", f.Caller.Code)
	case rq.Consumer != f.Caller.Code:
		return denied(ReasonRequirementForeign, "requirement %s was filed by department %s, not by %s: a department pulls only under its own granted requirements", rq.ID, rq.Consumer, f.Caller.Code)
	case rq.Resource != res.Code:
		return denied("RESOURCE_MISMATCH", "requirement %s is for resource %s, not %s", rq.ID, rq.Resource, res.Code)
	case rq.VerifyOnly && !verify:
		return denied(ReasonVerifyOnly, "requirement %s is verify-only (核验): it returns no value, only whether claimed values match (gxctl verify-data); file a pull requirement if the duty needs the data itself", rq.ID)
	case res.Withdrawn:
		return denied(ReasonResourceWithdrawn, "resource %s was withdrawn from the catalogue (version %d): nothing is pulled from it", res.Code, res.Version)
	case res.ShareType == ShareNotShared && !rq.SharingOrdered():
		return denied(ReasonNotShared, "resource %s is not shared (不予共享); legal basis: %s. Only the coordinator can decide otherwise: ask the coordinator if your duty requires the data", res.Code, res.LegalBasis.Citation())
	case rq.State == ReqRevoked:
		return denied(ReasonRequirementRevoked, "requirement %s was revoked: pulls under it stopped; file a new requirement if the duty continues", rq.ID)
	case rq.State != ReqGranted:
		return denied(ReasonRequirementNotGrant, "requirement %s is %s, not granted: pull once it is granted", rq.ID, rq.State)
	case f.Matter == nil:
		return denied(ReasonMatterUnknown, "matter %s is not a registered matter (事项目录): pulls name the registered matter they serve (gxctl matter list)", f.MatterCode)
	case !slices.Contains(rq.MatterCodes, f.MatterCode):
		return denied(ReasonPurposeNotCovered, "matter %s is not a purpose requirement %s was granted for (matters: %s): data is used only for the stated duty; file or amend a requirement covering this matter", f.MatterCode, rq.ID, strings.Join(rq.MatterCodes, ", "))
	}
	return nil
}

// checkItems checks that the items asked are approved and still catalogued.
func checkItems(f PullFacts) error {
	denied := func(reason, format string, args ...any) error {
		return Errorf(KindPermissionDenied, reason, format, args...)
	}
	rq, res := f.Requirement, f.Resource
	for _, it := range f.Items {
		if !slices.Contains(rq.Items, it) {
			return denied(ReasonDataItemNotApproved, "data item %s was not approved by requirement %s (approved: %s): ask only for approved items, or amend the requirement", it, rq.ID, strings.Join(rq.Items, ", "))
		}
		if _, ok := res.Item(it); !ok {
			return denied(ReasonDataItemWithdrawn, "data item %s is no longer in resource %s (version %d): it was removed by a decided catalogue change", it, res.Code, res.Version)
		}
	}
	if len(f.Items) == 0 {
		return denied(ReasonDataItemWithdrawn, "none of the items requirement %s approved (%s) is still in resource %s", rq.ID, strings.Join(rq.Items, ", "), res.Code)
	}
	return nil
}
