package exchange

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Batch files (A9, provision method batch_file): a consumer whose requirement is provided
// by batch file receives the whole resource — a snapshot of every live record, or the
// change set after a cursor of the change feed — in one signed file. The records are
// served by Puller.Serve exactly as pulls serve them (checked against their publish record,
// minimised to the approved items, masked unless clear text is approved); the hub encodes,
// signs and audits the file (exchange/server/batchfiles.go).

// Batch file kinds and formats.
const (
	BatchSnapshot = "snapshot"
	BatchChanges  = "changes"

	BatchJSONL = "jsonl"
	BatchCSV   = "csv"
)

// MaxBatchRecords bounds one batch file: a change set stops there (ask again after its
// next cursor); a snapshot of more live records is refused (follow the change set from 0).
const MaxBatchRecords = 100000

// ReasonBatchTooLarge refuses a snapshot of more than MaxBatchRecords live records.
const ReasonBatchTooLarge = "BATCH_TOO_LARGE"

// BatchInput is one batch file as the consuming department asked for it.
type BatchInput struct {
	Caller        *Department
	Operator      string
	RequirementID string
	MatterCode    string // "": the requirement's matter, when it covers exactly one
	Since         string // "": snapshot; else a cursor of the change feed
	Format        string // jsonl (default) or csv
}

// BatchRow is one record of a batch file: the change feed position it comes from, and
// the version as served (a deleted version has no fields).
type BatchRow struct {
	Seq     int64
	Deleted bool
	Record  PulledRecord
}

// BatchExport is what a batch file holds, before the hub encodes and signs it.
type BatchExport struct {
	ID            string
	Consumer      string
	Operator      string
	Requirement   *Requirement
	Resource      *Resource
	MatterCode    string
	Kind          string
	Since         string
	Next          int64
	Truncated     bool
	Format        string
	Items         []string
	Masked        []string
	AsOf          time.Time
	Freshness     Freshness
	PolicyVersion int64
	Rows          []BatchRow
	// Subjects are the distinct subjects of the rows, in row order (audited one record each).
	Subjects []string
	// Note says which items were masked or approved in clear (for the audit record).
	Note string
}

// VersionReader reads one version of a subject's record (ErrNotFound when there is none).
type VersionReader interface {
	Version(ctx context.Context, resource, subject string, version int64) (*Record, error)
}

// ParseCursor reads a cursor of the change feed (a decimal number ≥ 0, as the hub returns
// next cursors and subscription cursors).
func ParseCursor(s string) (int64, error) {
	c, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || c < 0 {
		return 0, Errorf(KindInvalid, "CURSOR_INVALID", "cursor %q is not one the hub returned: a cursor is a decimal number ≥ 0 (the next_cursor of a batch file, or a subscription delivery's cursor); omit it for a snapshot", s)
	}
	return c, nil
}

// Export collects a batch file under a batch_file requirement: the invariants of a pull
// that do not concern a case (CheckBatch), then the policy (which sees the batch file's id
// where a pull names its case), then every record served through Serve. A refusal is
// audited like a refused pull. The file's own audit records are the caller's to write
// with the file (one per subject).
func (p *Puller) Export(ctx context.Context, in BatchInput, feed ChangeFeed) (*BatchExport, error) {
	now := p.now().UTC()
	a := PullAudit{PullID: NewID(), At: now, Department: in.Caller.Code, Operator: in.Operator, Matter: in.MatterCode}
	deny := func(err error) (*BatchExport, error) { return nil, p.deny(ctx, a, err) }
	bad := func(reason, format string, args ...any) (*BatchExport, error) {
		return deny(Errorf(KindInvalid, reason, format, args...))
	}
	if len(in.Operator) > MaxShortText || len(in.RequirementID) > 128 || len(in.MatterCode) > 64 || len(in.Since) > 32 || len(in.Format) > 16 {
		return bad("BATCH_REQUEST_INVALID", "ids of at most 64 (matter), 128 (requirement) and 256 (operator) bytes, a cursor of at most 32 and a format of at most 16")
	}
	if !in.Caller.HasRole(RoleConsumer) {
		return deny(Errorf(KindPermissionDenied, "ROLE_REQUIRED", "department %s does not hold the consumer role needed to receive batch files", in.Caller.Code))
	}
	if blank(in.RequirementID) {
		return bad("REQUIREMENT_MISSING", "requirement_id is required: batch files are made under a granted requirement provided by batch_file")
	}
	format := strings.ToLower(strings.TrimSpace(in.Format))
	if format == "" {
		format = BatchJSONL
	}
	if format != BatchJSONL && format != BatchCSV {
		return bad("BATCH_FORMAT_INVALID", "format %q is not jsonl or csv", in.Format)
	}
	kind, since := BatchSnapshot, int64(0)
	if strings.TrimSpace(in.Since) != "" {
		c, err := ParseCursor(in.Since)
		if err != nil {
			return deny(err)
		}
		kind, since = BatchChanges, c
	}
	rq, err := p.Requirements.Get(ctx, in.RequirementID)
	if KindOf(err) == KindNotFound {
		return deny(Errorf(KindNotFound, "REQUIREMENT_NOT_FOUND", "no requirement %s: file one, or use the id the hub returned", in.RequirementID))
	} else if err != nil {
		return nil, err
	}
	a.Resource = rq.Resource
	if blank(in.MatterCode) {
		// A requirement granted for one matter names it; otherwise the consumer says which.
		if len(rq.MatterCodes) != 1 || rq.Consumer != in.Caller.Code {
			return bad("MATTER_CODE_MISSING", "matter_code (事项编码) is required: a batch file is bound to the matter it serves (requirement %s covers %s)", rq.ID, strings.Join(rq.MatterCodes, ", "))
		}
		in.MatterCode = rq.MatterCodes[0]
		a.Matter = in.MatterCode
	}
	res, err := p.Catalog.Get(ctx, rq.Resource, 0)
	if err != nil {
		return nil, err
	}
	f := PullFacts{Caller: in.Caller, Operator: in.Operator, Requirement: rq, Resource: res, MatterCode: in.MatterCode, Scope: res.ScopeRegion}
	f.Items = slices.DeleteFunc(slices.Clone(rq.Items), func(it string) bool { _, ok := res.Item(it); return !ok })
	a.Items = f.Items
	if f.Matter, err = p.Matters.Get(ctx, in.MatterCode); err != nil && KindOf(err) != KindNotFound {
		return nil, err
	}
	if err := CheckBatch(f); err != nil {
		return deny(err)
	}
	out := &BatchExport{ID: a.PullID, Consumer: in.Caller.Code, Operator: in.Operator, Requirement: rq, Resource: res, MatterCode: in.MatterCode,
		Kind: kind, Format: format, Items: f.Items, AsOf: now}
	if kind == BatchChanges {
		out.Since = strconv.FormatInt(since, 10)
	}
	f.CaseNumber = "batch:" + out.ID // the policy's case fact: a batch file stands for the case a pull names
	verdict, err := p.Policy.Restrict(ctx, f)
	if err != nil {
		return nil, err
	}
	if !verdict.Allow {
		return deny(&Error{Kind: KindPermissionDenied, Reason: verdict.Reason, Msg: verdict.Message})
	}
	out.PolicyVersion = verdict.Version
	out.Freshness = p.Freshness.FreshnessOf(ctx, res, now)
	disclose := NewDisclosure(rq, res, f.Items)
	out.Masked, out.Note = disclose.Masked(), disclose.Note()

	var changes []FeedChange
	if kind == BatchSnapshot {
		changes, out.Next, err = snapshotChanges(ctx, feed, res.Code)
	} else {
		changes, out.Next, out.Truncated, err = changeSet(ctx, feed, res.Code, since)
	}
	if IsReason(err, ReasonBatchTooLarge) {
		return deny(err)
	}
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, c := range changes {
		rec, err := p.Versions.Version(ctx, res.Code, c.Subject, c.Version)
		if err != nil {
			return nil, fmt.Errorf("read version %d of a record of %s: %w", c.Version, res.Code, err)
		}
		if kind == BatchSnapshot && rec.Deleted {
			continue
		}
		pr, err := p.Serve(ctx, rec, f.Items, disclose)
		if KindOf(err) == KindDataLoss {
			return deny(err)
		}
		if err != nil {
			return nil, err
		}
		out.Rows = append(out.Rows, BatchRow{Seq: c.Seq, Deleted: rec.Deleted, Record: pr})
		if !seen[rec.Subject] {
			seen[rec.Subject] = true
			out.Subjects = append(out.Subjects, rec.Subject)
		}
	}
	return out, nil
}

// snapshotChanges reads the whole change feed of a resource and keeps each subject's last
// change, in feed order; next is the feed's last position read.
func snapshotChanges(ctx context.Context, feed ChangeFeed, resource string) ([]FeedChange, int64, error) {
	last := map[string]FeedChange{}
	var next int64
	for {
		page, err := feed.ChangesAfter(ctx, resource, next, 10000)
		if err != nil {
			return nil, 0, err
		}
		if len(page) == 0 {
			break
		}
		for _, c := range page {
			last[c.Subject] = c
		}
		next = page[len(page)-1].Seq
		if len(last) > 2*MaxBatchRecords {
			break // refused below
		}
	}
	if len(last) > MaxBatchRecords {
		return nil, 0, Errorf(KindFailedPrecondition, ReasonBatchTooLarge,
			"resource %s holds more than %d subjects: a snapshot would exceed one batch file; follow its change set from cursor 0 instead (--since 0), %d records a file", resource, MaxBatchRecords, MaxBatchRecords)
	}
	out := make([]FeedChange, 0, len(last))
	for _, c := range last {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b FeedChange) int { return int(min(max(a.Seq-b.Seq, -1), 1)) })
	return out, next, nil
}

// changeSet reads up to MaxBatchRecords changes after since, every version in order.
func changeSet(ctx context.Context, feed ChangeFeed, resource string, since int64) ([]FeedChange, int64, bool, error) {
	var out []FeedChange
	next := since
	for len(out) < MaxBatchRecords {
		page, err := feed.ChangesAfter(ctx, resource, next, min(10000, MaxBatchRecords-len(out)))
		if err != nil {
			return nil, 0, false, err
		}
		if len(page) == 0 {
			return out, next, false, nil
		}
		out = append(out, page...)
		next = page[len(page)-1].Seq
	}
	more, err := feed.ChangesAfter(ctx, resource, next, 1)
	if err != nil {
		return nil, 0, false, err
	}
	return out, next, len(more) > 0, nil
}

// CheckBatch checks the invariants of a batch file, in a fixed order: those of a pull
// that do not concern a case (the requirement is the caller's, granted, not revoked, not
// verify-only; the resource shared and catalogued; the matter registered and covered; the
// items approved and catalogued), then that the requirement is provided by batch_file and
// that its scope covers the resource's whole scope (a batch file holds every record; the
// records carry no region of their own).
func CheckBatch(f PullFacts) error { return checkWhole(f, ProvisionBatchFile) }

// checkWhole checks a use of a whole resource (a batch file, a subscription without a
// case) provided by method.
func checkWhole(f PullFacts, method ProvisionMethod) error {
	if err := checkGrant(f, false); err != nil {
		return err
	}
	rq, res := f.Requirement, f.Resource
	what := "a batch file"
	if method == ProvisionSubscription {
		what = "a subscription without a case"
	}
	if rq.ProvisionMethod != method {
		return Errorf(KindFailedPrecondition, ReasonProvisionMethod,
			"requirement %s is provided by %s, not by %s: use it as it is provided, or file a requirement with --provision %s", rq.ID, rq.ProvisionMethod, method, method)
	}
	if err := checkItems(f); err != nil {
		return err
	}
	if !RegionCovers(rq.ScopeRegion, res.ScopeRegion) {
		return Errorf(KindPermissionDenied, ReasonScopeMismatch,
			"requirement %s was granted for region %s, which does not cover the whole scope %s of resource %s: %s holds every record of the resource; work case by case instead, or file a requirement whose scope covers %s",
			rq.ID, rq.ScopeRegion, res.ScopeRegion, res.Code, what, res.ScopeRegion)
	}
	return nil
}

// IsReason reports whether err is an *Error with the reason.
func IsReason(err error, reason string) bool {
	var e *Error
	return errors.As(err, &e) && e.Reason == reason
}
