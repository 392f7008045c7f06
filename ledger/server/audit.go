package server

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/rpc"
	"github.com/gxhub/gxhub/exchange/store"
	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/ledger/anomaly"
	auditv1 "github.com/gxhub/gxhub/sdk/api/audit/v1"
	"github.com/gxhub/gxhub/sdk/api/convert"
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
	// Keys are the other published keys and the certificates of all three (GetLogInfo).
	Keys AuditKeys
	// Cosigned returns the latest witness-cosigned checkpoint note (ledger.ErrNotFound if
	// none); nil when the hub has no witnesses.
	Cosigned func(ctx context.Context) ([]byte, error)

	// Index is the audit log's query index (SearchRecords, ListAnomalies, SubjectUsage);
	// those calls answer AUDIT_INDEX_UNAVAILABLE without it.
	Index store.AuditIndex
	// SubjectKey hashes a plain subject identifier as the pulls do.
	SubjectKey ledger.SubjectKeyFunc
	// Store resolves department names and requirements (anomalies, subject usage).
	Store store.Store
	// Calendar measures how long cases have been open (CASE_OPEN_TOO_LONG).
	Calendar exchange.WorkingTimer
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Tampering receives the records found not to match the log's tree; they are answered
	// AUDIT_RECORD_TAMPERED (GetRecord, GetInclusionProof) or flagged (SearchRecords).
	Tampering *Tampering
}

// LeafChecker compares leaves with their stored leaf hashes (ledger/log.Log.CheckLeaves).
type LeafChecker interface {
	CheckLeaves(ctx context.Context, entries []ledger.Entry) ([]uint64, error)
}

// GetLogInfo implements the public log identity call.
func (a *Audit) GetLogInfo(ctx context.Context, _ *auditv1.GetLogInfoRequest) (*auditv1.LogInfo, error) {
	info := &auditv1.LogInfo{LogId: a.LogID, PublicKeyPem: a.PublicPEM, KeyId: a.KeyID, Size: a.Log.Size(),
		AnchorKeyPem: a.Keys.AnchorPEM, PullKeyPem: a.Keys.PullPEM, TreeHeadCertPem: a.Keys.TreeHeadCertPEM,
		AnchorCertPem: a.Keys.AnchorCertPEM, PullCertPem: a.Keys.PullCertPEM, CaChainPem: a.Keys.CAChainPEM}
	if a.Cosigned != nil {
		note, err := a.Cosigned(ctx)
		if err != nil && !errors.Is(err, ledger.ErrNotFound) {
			return nil, rpc.LedgerErr(err)
		}
		info.Checkpoint = string(note)
	}
	return info, nil
}

// AuditKeys is the hub's published verification material besides the tree-head key: each
// of its three signing keys has one purpose and a certificate from the hub CA saying so.
type AuditKeys struct {
	AnchorPEM, PullPEM                          string
	TreeHeadCertPEM, AnchorCertPEM, PullCertPEM string
	CAChainPEM                                  string
}

func (a *Audit) head(ctx context.Context, size uint64) (ledger.SignedTreeHead, error) {
	if size == 0 {
		h, err := a.Log.Head(ctx)
		if errors.Is(err, ledger.ErrNotFound) {
			return h, exchange.Errorf(exchange.KindNotFound, "AUDIT_NO_HEAD", "no tree head has been signed yet: heads are published at the log's interval; retry shortly")
		}
		return h, rpc.LedgerErr(err)
	}
	h, err := a.Heads.GetHead(ctx, size)
	if errors.Is(err, ledger.ErrNotFound) {
		return h, exchange.Errorf(exchange.KindNotFound, "AUDIT_NO_HEAD", "no signed head of tree size %d: heads exist only for the sizes the log signed; use 0 for the latest", size)
	}
	return h, rpc.LedgerErr(err)
}

// GetTreeHead returns the latest or a sized signed head.
func (a *Audit) GetTreeHead(ctx context.Context, req *auditv1.GetTreeHeadRequest) (*auditv1.SignedTreeHead, error) {
	h, err := a.head(ctx, req.GetTreeSize())
	if err != nil {
		return nil, err
	}
	return convert.HeadToProto(h), nil
}

// GetConsistencyProof proves size2 extends size1.
func (a *Audit) GetConsistencyProof(ctx context.Context, req *auditv1.GetConsistencyProofRequest) (*auditv1.ConsistencyProof, error) {
	p, err := a.Log.ConsistencyProof(ctx, req.GetSize1(), req.GetSize2())
	if err != nil {
		return nil, rpc.LedgerErr(err)
	}
	return &auditv1.ConsistencyProof{Size1: req.GetSize1(), Size2: req.GetSize2(), Hashes: p}, nil
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
		return nil, rpc.LedgerErr(err)
	}
	return convert.AnchorToProto(b), nil
}

// mayReadRecord is the one rule for reading an audit record's contents (its leaf, through
// any route): auditors read every record, a department the records it acted in. Everyone
// else gets hashes only.
func mayReadRecord(c *rpc.Caller, r ledger.Record) bool {
	return c.Department.HasRole(exchange.RoleAuditor) || r.Department == c.Department.Code
}

// GetInclusionProof returns a record's audit path to a signed head. The leaf is in the
// answer only for those who may read the record (mayReadRecord); anyone else signed gets the
// path and the head, which prove a leaf they already hold.
func (a *Audit) GetInclusionProof(ctx context.Context, req *auditv1.GetInclusionProofRequest) (*auditv1.InclusionProof, error) {
	c, err := rpc.RequireCaller(ctx)
	if err != nil {
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
		return nil, a.verified(ctx, req.GetIndex(), err)
	}
	p, err := a.Log.InclusionProof(ctx, req.GetIndex(), h.Size)
	if err != nil {
		return nil, rpc.LedgerErr(err)
	}
	out := &auditv1.InclusionProof{Index: req.GetIndex(), Hashes: p, Head: convert.HeadToProto(h)}
	if mayReadRecord(c, e.Record) {
		out.Leaf = e.Leaf
	}
	return out, nil
}

// GetRecord returns a record to an auditor or to the department that acted in it.
func (a *Audit) GetRecord(ctx context.Context, req *auditv1.GetRecordRequest) (*auditv1.AuditRecord, error) {
	c, err := rpc.RequireCaller(ctx)
	if err != nil {
		return nil, err
	}
	e, err := a.Log.GetRecord(ctx, req.GetIndex())
	if err != nil {
		return nil, a.verified(ctx, req.GetIndex(), err)
	}
	if !mayReadRecord(c, e.Record) {
		return nil, exchange.Errorf(exchange.KindPermissionDenied, "AUDITOR_REQUIRED",
			"audit record %d is readable by auditors and by the department that acted in it, not by %s", req.GetIndex(), c.Department.Code)
	}
	return convert.RecordToProto(e), nil
}

// KindAuditSearch is the audit kind of an auditor's search of the records of one subject.
const KindAuditSearch ledger.Kind = "audit.search"

// KindSubjectUsage is the audit kind of a subject-usage lookup (C5): looking up who used a
// subject's data is itself recorded.
const KindSubjectUsage ledger.Kind = "subject.usage"

// Anomaly rules of ListAnomalies (the rules themselves are in ledger/anomaly).
const (
	RulePullWithoutCase        = anomaly.RulePullWithoutCase
	RuleVolumeSpike            = anomaly.RuleVolumeSpike
	RulePullRequirementRevoked = anomaly.RulePullRequirementRevoked
	RulePullAfterRevocation    = anomaly.RulePullAfterRevocation
)

const (
	defaultAuditPage   = 100
	maxAuditPage       = 1000
	maxAnomalyWindow   = 31 * 24 * time.Hour
	maxSubjectLen      = 64
	maxHolderReference = 200
)

func (a *Audit) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

func (a *Audit) index() (store.AuditIndex, error) {
	if a.Index == nil {
		return nil, exchange.Errorf(exchange.KindUnavailable, "AUDIT_INDEX_UNAVAILABLE", "this hub's store has no audit index: searches need the SQL store (sqlite or postgres)")
	}
	return a.Index, nil
}

// subjectKey hashes a plain subject identifier; the identifier goes nowhere else.
func (a *Audit) subjectKey(subject string) (ledger.SubjectKey, error) {
	subject = exchange.NormalizeSubject(subject)
	if len(subject) > maxSubjectLen {
		return ledger.SubjectKey{}, exchange.Errorf(exchange.KindInvalid, "SUBJECT_INVALID", "subject is %d characters: give an ID number or 统一社会信用代码 (at most %d)", len(subject), maxSubjectLen)
	}
	if a.SubjectKey == nil {
		return ledger.SubjectKey{}, exchange.Errorf(exchange.KindUnavailable, "SUBJECT_KEY_UNAVAILABLE", "this hub has no subject key configured: it cannot search by subject")
	}
	return a.SubjectKey(subject), nil
}

func auditPageSize(n int32) (int, error) {
	switch {
	case n == 0:
		return defaultAuditPage, nil
	case n < 0 || n > maxAuditPage:
		return 0, exchange.Errorf(exchange.KindInvalid, "PAGE_SIZE_INVALID", "page_size %d: use 1..%d (0 for %d)", n, maxAuditPage, defaultAuditPage)
	}
	return int(n), nil
}

func auditPageStart(tok string) (uint64, error) {
	if tok == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(tok, 10, 64)
	if err != nil {
		return 0, exchange.Errorf(exchange.KindInvalid, "PAGE_TOKEN_INVALID", "page_token %q is not one this hub returned: pass next_page_token from the previous page", tok)
	}
	return n, nil
}

// page runs one search page and returns the entries and the next page token.
func page(ctx context.Context, ix store.AuditIndex, q store.AuditQuery, tok string, size int) ([]store.AuditEntry, string, error) {
	start, err := auditPageStart(tok)
	if err != nil {
		return nil, "", err
	}
	es, err := ix.Search(ctx, q, start, size)
	if err != nil {
		return nil, "", rpc.LedgerErr(err)
	}
	// A full page may be followed by an empty last page.
	next := ""
	if len(es) == size {
		next = strconv.FormatUint(es[size-1].Index+1, 10)
	}
	return es, next, nil
}

// SearchRecords implements the auditor's trace query (C4).
func (a *Audit) SearchRecords(ctx context.Context, req *auditv1.SearchRecordsRequest) (*auditv1.SearchRecordsResponse, error) {
	caller, err := rpc.RequireRole(ctx, exchange.RoleAuditor)
	if err != nil {
		return nil, err
	}
	ix, err := a.index()
	if err != nil {
		return nil, err
	}
	size, err := auditPageSize(req.GetPageSize())
	if err != nil {
		return nil, err
	}
	q := store.AuditQuery{Department: req.GetDepartment(), Resource: req.GetResource(), Case: req.GetCaseNumber(), Matter: req.GetMatter(),
		Kind: ledger.Kind(req.GetKind()), Outcome: ledger.Outcome(req.GetOutcome()), ReasonCode: req.GetReasonCode(), WithoutCase: req.GetWithoutCase()}
	switch {
	case req.GetSubject() != "" && req.GetSubjectKey() != "":
		return nil, exchange.Errorf(exchange.KindInvalid, "SUBJECT_INVALID", "give subject or subject_key, not both")
	case req.GetSubject() != "":
		if q.Subject, err = a.subjectKey(req.GetSubject()); err != nil {
			return nil, err
		}
	case req.GetSubjectKey() != "":
		b, err := hex.DecodeString(strings.ToLower(strings.TrimSpace(req.GetSubjectKey())))
		if err != nil || len(b) != ledger.DigestSize {
			return nil, exchange.Errorf(exchange.KindInvalid, "SUBJECT_KEY_INVALID", "subject_key must be %d hex characters, as AuditRecord.subject_key", 2*ledger.DigestSize)
		}
		copy(q.Subject[:], b)
	}
	if req.GetFrom() != nil {
		q.From = req.GetFrom().AsTime()
	}
	if req.GetTo() != nil {
		q.To = req.GetTo().AsTime()
	}
	if !q.From.IsZero() && !q.To.IsZero() && !q.From.Before(q.To) {
		return nil, exchange.Errorf(exchange.KindInvalid, "TIME_RANGE_INVALID", "from (%s) must be before to (%s)", q.From.Format(time.RFC3339), q.To.Format(time.RFC3339))
	}
	es, next, err := page(ctx, ix, q, req.GetPageToken(), size)
	if err != nil {
		return nil, err
	}
	if q.Subject != (ledger.SubjectKey{}) && req.GetPageToken() == "" {
		// A search for one person's records is a subject lookup: recorded (once, with its
		// first page, after the page is read so that it does not find itself) before
		// anything is answered.
		if _, err := a.Log.Append(ctx, ledger.Record{Kind: KindAuditSearch, Time: a.now(), Department: caller.Department.Code, Subject: q.Subject,
			Outcome: ledger.OutcomeOK, Reason: "search the records of one subject"}); err != nil {
			return nil, exchange.Wrap(exchange.KindUnavailable, "AUDIT_UNAVAILABLE", err, "the search could not be recorded in the audit log, so nothing is shown: retry")
		}
	}
	resp := &auditv1.SearchRecordsResponse{NextPageToken: next, LogSize: a.Log.Size()}
	entries := make([]ledger.Entry, len(es))
	for i, e := range es {
		entries[i] = ledger.Entry{Index: e.Index, Leaf: e.Leaf, Record: e.Record}
	}
	tampered, err := a.tampered(ctx, entries)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		r := convert.RecordToProto(e)
		r.Tampered = tampered[e.Index]
		resp.Records = append(resp.Records, r)
	}
	return resp, nil
}

// anomalyRules explains the rules with the thresholds in force.
func anomalyRules(factor float64, minCount int64, baseline int) []string {
	return []string{
		RulePullWithoutCase + ": every pull record (granted or denied) in the window whose case number is empty.",
		fmt.Sprintf("%s: a department's pulls in one UTC hour of the window are at least %d and more than %g × the median of its hourly pull counts over the %d hours before (hours without pulls count as 0).",
			RuleVolumeSpike, minCount, factor, baseline),
		RulePullRequirementRevoked + ": every pull in the window refused because its requirement was revoked (reason REQUIREMENT_REVOKED): an attempt to use data after the grant ended.",
		RulePullAfterRevocation + ": a granted pull in the window by a requirement's consumer, on the requirement's resource, recorded after that requirement's revocation decision (requirement.decision record with reason \"revoke …\"; its request id is the requirement id, resolved to consumer and resource in the requirement store). " +
			"Pull records do not name the requirement they used: if the consumer holds another granted requirement for the same resource the pull may be legitimate, and the explanation says so. Revocations whose requirement is not in this hub's store are not checked.",
	}
}

// ListAnomalies implements the auditor's anomaly flags (C4) over the window [from, to).
//
// Detected:
//
//   - PULL_WITHOUT_CASE: every pull record (granted or denied) with an empty case number.
//
//   - VOLUME_SPIKE: per department and UTC hour, a pull count ≥ spike_min_count and
//     > spike_factor × the median of the department's hourly counts over the
//     baseline_hours before (hours without pulls count as 0).
//
//   - PULL_REQUIREMENT_REVOKED: pulls refused with reason REQUIREMENT_REVOKED.
//
//   - PULL_AFTER_REVOCATION: granted pulls by a requirement's consumer on its resource,
//     timed at or after a requirement.decision record whose reason starts with "revoke"
//     (the decision record's request id is the requirement id; consumer and resource come
//     from the requirement store).
//
//   - CASE_MANY_SUBJECTS, CASE_SUBJECT_MISMATCH, CASE_OPEN_TOO_LONG: see anomalies_case.go.
//
// Not detected: pull records do not name the requirement they were granted under, so a
// granted pull after a revocation is flagged even when the consumer holds another granted
// requirement for the same resource (the explanation then says so); revocations of
// requirements missing from this hub's store are skipped; a spike is relative to the
// department's own history only (a department that always pulls heavily is never flagged,
// and a new department's first busy hour is, if above spike_min_count).
func (a *Audit) ListAnomalies(ctx context.Context, req *auditv1.ListAnomaliesRequest) (*auditv1.ListAnomaliesResponse, error) {
	if _, err := rpc.RequireRole(ctx, exchange.RoleAuditor); err != nil {
		return nil, err
	}
	ix, err := a.index()
	if err != nil {
		return nil, err
	}
	to := a.now()
	if req.GetTo() != nil {
		to = req.GetTo().AsTime()
	}
	from := to.Add(-24 * time.Hour)
	if req.GetFrom() != nil {
		from = req.GetFrom().AsTime()
	}
	if !from.Before(to) || to.Sub(from) > maxAnomalyWindow {
		return nil, exchange.Errorf(exchange.KindInvalid, "TIME_RANGE_INVALID", "the window from %s to %s must be non-empty and at most %s", from.Format(time.RFC3339), to.Format(time.RFC3339), maxAnomalyWindow)
	}
	factor, minCount, baseline, limit := req.GetSpikeFactor(), req.GetSpikeMinCount(), int(req.GetBaselineHours()), int(req.GetLimit())
	if factor == 0 {
		factor = 3
	}
	if minCount == 0 {
		minCount = 20
	}
	if baseline == 0 {
		baseline = 24
	}
	if limit == 0 || limit > maxAuditPage {
		limit = maxAuditPage
	}
	if factor < 1 || minCount < 1 || baseline < 1 || baseline > 24*31 || limit < 0 {
		return nil, exchange.Errorf(exchange.KindInvalid, "ANOMALY_THRESHOLD_INVALID", "spike_factor must be ≥ 1, spike_min_count ≥ 1, baseline_hours 1..744, limit ≥ 0 (got %g, %d, %d, %d)", factor, minCount, baseline, limit)
	}
	subjectsMin, overdueFactor := int(req.GetCaseSubjectsMin()), req.GetCaseOverdueFactor()
	if subjectsMin == 0 {
		subjectsMin = 10
	}
	if overdueFactor == 0 {
		overdueFactor = 2
	}
	if subjectsMin < 2 || overdueFactor < 1 {
		return nil, exchange.Errorf(exchange.KindInvalid, "ANOMALY_THRESHOLD_INVALID", "case_subjects_min must be ≥ 2 and case_overdue_factor ≥ 1 (got %d, %g)", subjectsMin, overdueFactor)
	}
	resp := &auditv1.ListAnomaliesResponse{Rules: append(anomalyRules(factor, minCount, baseline), caseRules(subjectsMin, overdueFactor)...),
		From: timestamppb.New(from), To: timestamppb.New(to)}
	add := func(an *auditv1.Anomaly) bool {
		if len(resp.Anomalies) >= limit {
			resp.Truncated = true
			return false
		}
		resp.Anomalies = append(resp.Anomalies, an)
		return true
	}
	// addAll adds the findings of a rule; false once the limit is reached.
	addAll := func(fs []anomaly.Finding) bool {
		for _, f := range fs {
			if !add(findingToProto(f)) {
				return false
			}
		}
		return true
	}
	// room is how many records a rule flagging one anomaly per record may need: one more
	// than the limit leaves, so that reaching it marks the answer truncated.
	room := func() int { return limit - len(resp.Anomalies) + 1 }
	// load reads up to max records of a query, in log order.
	load := func(q store.AuditQuery, max int) ([]anomaly.Record, error) {
		return loadRecords(ctx, ix, q, max)
	}

	// 1. Pulls without a case number.
	pulls, err := load(store.AuditQuery{Kind: ledger.KindPull, WithoutCase: true, From: from, To: to}, room())
	if err != nil {
		return nil, err
	}
	addAll(anomaly.PullsWithoutCase(pulls))

	// 2. Volume spikes.
	hourFrom := from.UTC().Truncate(time.Hour)
	counts, err := ix.HourlyCounts(ctx, ledger.KindPull, hourFrom.Add(-time.Duration(baseline)*time.Hour), to)
	if err != nil {
		return nil, rpc.LedgerErr(err)
	}
	in := make([]anomaly.HourCount, len(counts))
	for i, c := range counts {
		in[i] = anomaly.HourCount{Department: c.Department, Hour: c.Hour, Count: c.Count}
	}
	for _, sp := range (anomaly.SpikeRule{Factor: factor, MinCount: minCount, Baseline: baseline}).Spikes(in, from, to) {
		if !add(&auditv1.Anomaly{Rule: RuleVolumeSpike, Department: sp.Department, Hour: timestamppb.New(sp.Hour), Count: sp.Count, BaselineMedian: sp.Median,
			Explanation: fmt.Sprintf("%d pulls in the hour from %s, more than %g × the median %g of the %d hours before; list them with SearchRecords department=%s kind=pull from/to that hour",
				sp.Count, sp.Hour.Format(time.RFC3339), factor, sp.Median, baseline, sp.Department)}) {
			break
		}
	}

	// 3. Pulls refused because the requirement was revoked.
	refused, err := load(store.AuditQuery{Kind: ledger.KindPull, ReasonCode: "REQUIREMENT_REVOKED", From: from, To: to}, room())
	if err != nil {
		return nil, err
	}
	addAll(anomaly.PullsRefusedRevoked(refused))

	// 4. Granted pulls after a revocation of the same requirement.
	revocations, err := load(store.AuditQuery{Kind: ledger.KindRequirementDecision, ReasonCode: string(exchange.ActRevoke), To: to}, 10*maxAuditPage)
	if err != nil {
		return nil, err
	}
	if a.Store != nil {
		for _, rev := range revocations {
			req, err := a.Store.Requirements().Get(ctx, rev.RequestID)
			if err != nil {
				if errors.Is(err, exchange.ErrNotFound) {
					continue
				}
				return nil, err
			}
			since := rev.Time
			if since.Before(from) {
				since = from
			}
			granted, err := load(store.AuditQuery{Kind: ledger.KindPull, Outcome: ledger.OutcomeGranted, Department: req.Consumer, Resource: req.Resource, From: since, To: to}, maxAuditPage)
			if err != nil {
				return nil, err
			}
			if len(granted) == 0 {
				continue
			}
			others, err := a.Store.Requirements().List(ctx, store.RequirementFilter{Consumer: req.Consumer, Resource: req.Resource, State: exchange.ReqGranted}, "", 10)
			if err != nil {
				return nil, err
			}
			r := anomaly.Revocation{Requirement: req.ID, Consumer: req.Consumer, Resource: req.Resource, Time: rev.Time, Index: rev.Index}
			if len(others) > 0 {
				r.OtherGrant = others[0].ID
			}
			if f, ok := anomaly.PullsAfterRevocation(r, granted); ok && !addAll([]anomaly.Finding{f}) {
				break
			}
		}
	}

	// 5–7. Cases.
	if err := a.caseManySubjects(ctx, ix, from, to, subjectsMin, addAll); err != nil {
		return nil, err
	}
	mismatched, err := load(store.AuditQuery{Kind: ledger.KindPull, ReasonCode: exchange.ReasonCaseSubjectMismatch, From: from, To: to}, 10*maxAuditPage)
	if err != nil {
		return nil, err
	}
	addAll(anomaly.CaseSubjectMismatch(mismatched))
	if err := a.caseOpenTooLong(ctx, to, overdueFactor, addAll); err != nil {
		return nil, err
	}
	return resp, nil
}

// SubjectUsage implements the citizen / company view (C5) for a department acting for an
// authenticated holder. The lookup is appended to the audit log before anything is
// answered: without that record nothing is shown.
func (a *Audit) SubjectUsage(ctx context.Context, req *auditv1.SubjectUsageRequest) (*auditv1.SubjectUsageResponse, error) {
	c, err := rpc.RequireCaller(ctx)
	if err != nil {
		return nil, err
	}
	if !c.Department.HasRole(exchange.RoleCoordinator) && !c.Department.HasRole(exchange.RoleAuditor) {
		return nil, exchange.Errorf(exchange.KindPermissionDenied, "ROLE_REQUIRED",
			"department %s (%s) holds neither the coordinator nor the auditor role: only those look up a subject's data use for an authenticated holder", c.Department.Code, c.Department.Name)
	}
	ix, err := a.index()
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(req.GetSubject()) == "" {
		return nil, exchange.Errorf(exchange.KindInvalid, "SUBJECT_REQUIRED", "give the holder's ID number or 统一社会信用代码 in subject")
	}
	ref := strings.TrimSpace(req.GetHolderReference())
	if ref == "" || len(ref) > maxHolderReference {
		return nil, exchange.Errorf(exchange.KindInvalid, "HOLDER_REFERENCE_REQUIRED",
			"holder_reference must say how your department authenticated the holder (your case or session reference, 1..%d bytes): it is recorded with the lookup", maxHolderReference)
	}
	key, err := a.subjectKey(req.GetSubject())
	if err != nil {
		return nil, err
	}
	size, err := auditPageSize(req.GetPageSize())
	if err != nil {
		return nil, err
	}
	if _, err := auditPageStart(req.GetPageToken()); err != nil {
		return nil, err
	}
	lookup, err := a.Log.Append(ctx, ledger.Record{Kind: KindSubjectUsage, Time: a.now(), Department: c.Department.Code, Subject: key,
		Outcome: ledger.OutcomeOK, Reason: "for the holder, authenticated as " + ref})
	if err != nil {
		return nil, exchange.Wrap(exchange.KindUnavailable, "AUDIT_UNAVAILABLE", err, "the lookup could not be recorded in the audit log, so nothing is shown: retry")
	}
	es, next, err := page(ctx, ix, store.AuditQuery{Subject: key}, req.GetPageToken(), size)
	if err != nil {
		return nil, err
	}
	resp := &auditv1.SubjectUsageResponse{NextPageToken: next, LookupIndex: lookup}
	names := map[string]string{}
	for _, e := range es {
		r := e.Record
		name, ok := names[r.Department]
		if !ok && a.Store != nil {
			if d, err := a.Store.Departments().Get(ctx, r.Department); err == nil {
				name = d.Name
			}
			names[r.Department] = name
		}
		resp.Uses = append(resp.Uses, &auditv1.SubjectUse{Index: e.Index, Time: timestamppb.New(r.Time), Department: r.Department, DepartmentName: name,
			Kind: string(r.Kind), Resource: r.Resource, DataItems: r.DataItems, Matter: r.Matter, CaseNumber: r.Case, Outcome: string(r.Outcome), Reason: r.Reason})
	}
	return resp, nil
}
