package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/integrity"
	"github.com/gxhub/gxhub/exchange/store"
	"github.com/gxhub/gxhub/ledger"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
)

// Records implements gxhub.exchange.v1.RecordService (A4): signed, atomic, versioned
// publishing. The provider's signed request is the batch signature; it is stored with the
// batch (Batch.Evidence, Batch.BodyDigest).
type Records struct {
	exchangev1.UnimplementedRecordServiceServer
	Store      store.Store
	Audit      *store.AuditWriter
	SubjectKey ledger.SubjectKeyFunc
	Log        *slog.Logger
	Now        Clock
	// Changes, if set, wakes this hub's subscription followers after each publish.
	Changes *ChangeBroadcast
}

var changeOps = map[exchangev1.ChangeOp]exchange.ChangeOp{
	exchangev1.ChangeOp_CHANGE_OP_UPSERT: exchange.OpUpsert,
	exchangev1.ChangeOp_CHANGE_OP_DELETE: exchange.OpDelete,
}

// Publish applies a batch.
func (s *Records) Publish(ctx context.Context, req *exchangev1.PublishRequest) (*exchangev1.PublishResponse, error) {
	c, err := RequireRole(ctx, exchange.RoleProvider)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(req.GetBatchId()) == "" || len(req.GetBatchId()) > 128 {
		return nil, exchange.Errorf(exchange.KindInvalid, "BATCH_ID_INVALID", "batch_id is required (at most 128 characters): a unique id per batch makes retries safe")
	}
	res, err := s.Store.Catalog().Get(ctx, req.GetResource(), 0)
	if err != nil {
		return nil, err
	}
	now := s.Now.now().UTC().Truncate(time.Microsecond)
	b := &exchange.Batch{ID: req.GetBatchId(), Resource: res.Code, Provider: c.Department.Code, At: now, Evidence: c.Evidence, BodyDigest: c.BodyDigest}
	for i, ch := range req.GetChanges() {
		op, ok := changeOps[ch.GetOp()]
		if !ok {
			return nil, exchange.Errorf(exchange.KindInvalid, "CHANGE_OP_INVALID", "change %d: op must be CHANGE_OP_UPSERT or CHANGE_OP_DELETE", i+1).AtChange(i)
		}
		b.Changes = append(b.Changes, exchange.Change{Op: op, Subject: ch.GetSubject(), Fields: ch.GetFields()})
	}
	if err := exchange.ValidateBatch(b, res); err != nil {
		return nil, err
	}
	recs, idx, audited, err := StoreBatch(ctx, s.Store, s.Audit, s.Log, b)
	if exchange.KindOf(err) == exchange.KindAlreadyExists {
		return s.republished(ctx, b, err)
	}
	if err != nil {
		return nil, err
	}
	if s.Changes != nil {
		s.Changes.Notify()
	}
	resp := &exchangev1.PublishResponse{BatchId: b.ID, PublishedAt: timestamppb.New(now)}
	for _, r := range recs {
		resp.Versions = append(resp.Versions, &exchangev1.RecordVersion{Subject: r.Subject, Version: r.Version, Deleted: r.Deleted})
	}
	if audited {
		resp.AuditReference = idx
	}
	return resp, nil
}

// StoreBatch seals a validated batch (SealBatch), stores it and appends its publish audit
// record, which commits to the provider's signed request and to every version written
// (PublishDigest), and records that record's index with the batch: pulls serve a version
// only while it matches. Every publish goes through here, the demo's included: the batch,
// its versions and the publish record's intent commit in one audited write. It returns
// the versions written and the publish record's index (an error when the record could not
// be appended: the batch is then durable with its record pending, and its versions are not
// served until the record is in the log and linked).
func StoreBatch(ctx context.Context, st store.Store, audit *store.AuditWriter, l *slog.Logger, b *exchange.Batch) (recs []*exchange.Record, idx uint64, audited bool, err error) {
	root, err := integrity.SealBatch(b)
	if err != nil {
		return nil, 0, false, err
	}
	// The batch, its records and its publish record commit together (the outbox).
	idx, err = auditedWrite(ctx, audit, func(ctx context.Context) (ledger.Record, error) {
		var err error
		if recs, err = st.Records().Publish(ctx, b); err != nil {
			return ledger.Record{}, err
		}
		// The resource's first publish time (kept when it has one).
		if err := st.Catalog().MarkPublished(ctx, b.Resource, b.At); err != nil {
			return ledger.Record{}, err
		}
		return ledger.Record{Kind: ledger.KindPublish, Time: b.At, Department: b.Provider, Resource: b.Resource,
			Outcome: ledger.OutcomeOK, Reason: "batch " + b.ID + ": " + strconv.Itoa(len(recs)) + " changes", ResponseDigest: integrity.PublishDigest(integrity.EvidenceDigest(b.Evidence), root), RequestID: b.ID}, nil
	})
	if err != nil {
		return nil, 0, false, err
	}
	// The link from the batch to its record, once the record is in the log.
	if err := st.Records().SetPublishRecord(ctx, b.ID, idx); err != nil {
		if l != nil {
			l.ErrorContext(ctx, "link a batch to its publish record", slog.String("batch", b.ID), slog.Uint64("record", idx), slog.String("error", err.Error()))
		}
		return recs, idx, true, nil
	}
	return recs, idx, true, nil
}

// republished answers a batch whose id was used (refused): a re-sent batch equal to the
// stored one (exchange.SameBatch) is reported as already published, writing nothing; a
// different one is refused, saying so.
func (s *Records) republished(ctx context.Context, b *exchange.Batch, refused error) (*exchangev1.PublishResponse, error) {
	stored, err := s.Store.Records().Batch(ctx, b.ID)
	if err != nil || stored.Provider != b.Provider {
		return nil, refused // another provider's id: say no more than that it is used
	}
	recs, err := s.Store.Records().BatchRecords(ctx, b.ID)
	if err != nil {
		return nil, err
	}
	if same, i := exchange.DiffBatch(stored, recs, b); !same {
		e := exchange.Errorf(exchange.KindAlreadyExists, "BATCH_EXISTS",
			"batch %s was already published (%s, %d changes to %s) with different content: nothing was published; give this batch a new id (re-sending exactly the published content is answered as already published)",
			b.ID, stored.At.Format(time.RFC3339), len(recs), stored.Resource)
		if i >= 0 {
			e = exchange.Errorf(exchange.KindAlreadyExists, "BATCH_EXISTS",
				"batch %s was already published (%s, %d changes to %s) with different content (change %d differs): nothing was published; give this batch a new id (re-sending exactly the published content is answered as already published)",
				b.ID, stored.At.Format(time.RFC3339), len(recs), stored.Resource, i+1).AtChange(i)
		}
		return nil, e
	}
	bySubject := make(map[string]*exchange.Record, len(recs))
	for _, r := range recs {
		bySubject[r.Subject] = r
	}
	resp := &exchangev1.PublishResponse{BatchId: b.ID, PublishedAt: timestamppb.New(stored.At), AlreadyPublished: true}
	for _, c := range b.Changes {
		r := bySubject[c.Subject]
		resp.Versions = append(resp.Versions, &exchangev1.RecordVersion{Subject: r.Subject, Version: r.Version, Deleted: r.Deleted})
	}
	return resp, nil
}

// DataRecordToProto converts for the wire.
func DataRecordToProto(r *exchange.Record) *exchangev1.Record {
	return &exchangev1.Record{Resource: r.Resource, Subject: r.Subject, Version: r.Version, Fields: r.Fields, Deleted: r.Deleted,
		PublishedAt: timestamppb.New(r.PublishedAt), PublishedBy: r.PublishedBy, BatchId: r.Batch}
}

// GetRecordHistory returns every version of a record to its provider.
func (s *Records) GetRecordHistory(ctx context.Context, req *exchangev1.GetRecordHistoryRequest) (*exchangev1.GetRecordHistoryResponse, error) {
	c, err := RequireCaller(ctx)
	if err != nil {
		return nil, err
	}
	res, err := s.Store.Catalog().Get(ctx, req.GetResource(), 0)
	if err != nil {
		return nil, err
	}
	if res.Provider != c.Department.Code {
		return nil, exchange.Errorf(exchange.KindPermissionDenied, "NOT_RESOURCE_PROVIDER",
			"only the provider of %s reads its record history; consumers pull under a granted requirement", res.Code)
	}
	subject := exchange.NormalizeSubject(req.GetSubject())
	h, err := s.Store.Records().History(ctx, res.Code, subject)
	if err != nil {
		return nil, err
	}
	// A read of a person's data: audited before it is answered.
	rec := ledger.Record{Kind: KindRecordHistory, Time: s.Now.now().UTC(), Department: c.Department.Code, Resource: res.Code,
		Outcome: ledger.OutcomeOK, Reason: fmt.Sprintf("record history: %d versions", len(h))}
	if s.SubjectKey != nil {
		rec.Subject = s.SubjectKey(subject)
	}
	if _, err := auditRecord(ctx, s.Audit, rec); err != nil {
		return nil, err
	}
	resp := &exchangev1.GetRecordHistoryResponse{}
	for _, r := range h {
		resp.Versions = append(resp.Versions, DataRecordToProto(r))
	}
	return resp, nil
}

// Objections implements gxhub.exchange.v1.ObjectionService (A4, 谁使用谁反馈): the rules
// live in exchange (RaiseObjection, ResolveObjection); every step is audited and an
// objection unanswered past its deadline in working days escalates to the coordinator.
type Objections struct {
	exchangev1.UnimplementedObjectionServiceServer
	Store store.Store
	// Calendar computes answer deadlines; DefaultDays is the deadline in working days of a
	// resource that sets none (0: exchange.DefaultObjectionDays).
	Calendar    exchange.WorkingDays
	DefaultDays int
	Audit       *store.AuditWriter
	SubjectKey  ledger.SubjectKeyFunc
	Log         *slog.Logger
	Now         Clock
}

// record is the audit record of a step of an objection.
func (s *Objections) record(by string, evidence string, o *exchange.Objection, at time.Time, what string) ledger.Record {
	rec := ledger.Record{Kind: KindObjection, Time: at, Department: by, Resource: o.Resource, DataItems: o.Items,
		Outcome: ledger.OutcomeOK, Reason: what, RequestID: o.ID}
	if evidence != "" {
		d := sm.Sum([]byte(evidence))
		rec.ResponseDigest = d[:]
	}
	if s.SubjectKey != nil {
		rec.Subject = s.SubjectKey(o.Subject)
	}
	return rec
}

var objectionStates = map[exchange.ObjectionState]exchangev1.ObjectionState{
	exchange.ObjectionOpen:      exchangev1.ObjectionState_OBJECTION_STATE_OPEN,
	exchange.ObjectionCorrected: exchangev1.ObjectionState_OBJECTION_STATE_CORRECTED,
	exchange.ObjectionRejected:  exchangev1.ObjectionState_OBJECTION_STATE_REJECTED,
}

func objectionStateFromProto(p exchangev1.ObjectionState) exchange.ObjectionState {
	for d, w := range objectionStates {
		if w == p {
			return d
		}
	}
	return ""
}

// ObjectionToProto converts for the wire.
func ObjectionToProto(o *exchange.Objection) *exchangev1.Objection {
	out := &exchangev1.Objection{Id: o.ID, Resource: o.Resource, Subject: o.Subject, RecordVersion: o.RecordVersion, Consumer: o.Consumer,
		Provider: o.Provider, Items: o.Items, Text: o.Text, State: objectionStates[o.State], RaisedAt: timestamppb.New(o.RaisedAt),
		ResolvedBy: o.ResolvedBy, Resolution: o.Resolution, ResolvedAt: ts(o.ResolvedAt), Deadline: ts(o.Deadline), EscalatedAt: ts(o.EscalatedAt),
		CorrectedVersion: o.CorrectedVersion, DeadlineProvisional: o.DeadlineProvisional}
	return out
}

// RaiseObjection records a consumer's objection to a record and routes it to the provider.
func (s *Objections) RaiseObjection(ctx context.Context, req *exchangev1.RaiseObjectionRequest) (*exchangev1.RaiseObjectionResponse, error) {
	c, err := RequireRole(ctx, exchange.RoleConsumer)
	if err != nil {
		return nil, err
	}
	res, err := s.Store.Catalog().Get(ctx, req.GetResource(), 0)
	if err != nil {
		return nil, err
	}
	subject := exchange.NormalizeSubject(req.GetSubject())
	var rec *exchange.Record
	if v := req.GetRecordVersion(); v > 0 {
		rec, err = s.Store.Records().Version(ctx, res.Code, subject, v)
	} else {
		rec, err = s.Store.Records().Latest(ctx, res.Code, subject)
	}
	if err != nil {
		return nil, err
	}
	o := &exchange.Objection{ID: newID(), Items: req.GetItems(), Text: req.GetText()}
	if err := exchange.RaiseObjection(o, res, rec, actor(c), s.Calendar, s.DefaultDays, s.Now.now()); err != nil {
		return nil, err
	}
	if _, err := auditedWrite(ctx, s.Audit, func(ctx context.Context) (ledger.Record, error) {
		if err := s.Store.Objections().Raise(ctx, o); err != nil {
			return ledger.Record{}, err
		}
		return s.record(c.Department.Code, c.Evidence, o, o.RaisedAt, fmt.Sprintf("raise: record version %d; the provider answers by %s", o.RecordVersion, o.Deadline.Format(time.RFC3339))), nil
	}); err != nil {
		return nil, err
	}
	return &exchangev1.RaiseObjectionResponse{Objection: ObjectionToProto(o)}, nil
}

// Sweep escalates every open objection past its deadline to the coordinator and returns how
// many it escalated (the hub calls it periodically; listings sweep first).
func (s *Objections) Sweep(ctx context.Context) (int, error) {
	n := 0
	for {
		due, err := s.Store.Objections().Overdue(ctx, s.Now.now(), 100)
		if err != nil {
			return n, err
		}
		for _, o := range due {
			at := s.Now.now().UTC().Truncate(time.Microsecond)
			_, err := auditedWrite(ctx, s.Audit, func(ctx context.Context) (ledger.Record, error) {
				ok, err := s.Store.Objections().Escalate(ctx, o.ID, at)
				if err == nil && !ok {
					err = errNothingWritten
				}
				return s.record(exchange.SystemActor, "", o, at, "escalate: "+o.EscalationNote()), err
			})
			switch {
			case err == nil:
				n++
			case !errors.Is(err, errNothingWritten):
				return n, err
			}
		}
		if len(due) < 100 {
			return n, nil
		}
	}
}

// ListObjections lists the caller's objections (raised, routed to it as provider, or —
// for a coordinator — escalated).
func (s *Objections) ListObjections(ctx context.Context, req *exchangev1.ListObjectionsRequest) (*exchangev1.ListObjectionsResponse, error) {
	c, err := RequireCaller(ctx)
	if err != nil {
		return nil, err
	}
	f := store.ObjectionFilter{Resource: req.GetResource(), State: objectionStateFromProto(req.GetState())}
	switch req.GetAs() {
	case "", "consumer":
		f.Consumer = c.Department.Code
	case "provider":
		f.Provider = c.Department.Code
	case "coordinator":
		if !c.Department.HasRole(exchange.RoleCoordinator) {
			return nil, exchange.Errorf(exchange.KindPermissionDenied, "ROLE_REQUIRED", "only a coordinator lists escalated objections (as=coordinator)")
		}
		f.Escalated = true
	default:
		return nil, exchange.Errorf(exchange.KindInvalid, "AS_INVALID", "as must be consumer, provider or coordinator, got %q", req.GetAs())
	}
	size := int(req.GetPageSize())
	if size == 0 {
		size = 100
	}
	if _, err := s.Sweep(ctx); err != nil && s.Log != nil {
		s.Log.WarnContext(ctx, "objection escalation sweep on read", slog.String("error", err.Error()))
	}
	list, err := s.Store.Objections().List(ctx, f, size)
	if err != nil {
		return nil, err
	}
	if len(list) > 0 {
		// Objections name the subjects of the records objected to: audited before answered.
		if _, err := auditRecord(ctx, s.Audit, ledger.Record{Kind: KindObjection, Time: s.Now.now().UTC(), Department: c.Department.Code,
			Resource: f.Resource, Outcome: ledger.OutcomeOK, Reason: fmt.Sprintf("list as %s: %d objections", listAs(req.GetAs()), len(list))}); err != nil {
			return nil, err
		}
	}
	resp := &exchangev1.ListObjectionsResponse{}
	for _, o := range list {
		resp.Objections = append(resp.Objections, ObjectionToProto(o))
	}
	return resp, nil
}

// ResolveObjection lets the provider resolve an open objection; "corrected" needs a record
// version published after the objection.
func (s *Objections) ResolveObjection(ctx context.Context, req *exchangev1.ResolveObjectionRequest) (*exchangev1.ResolveObjectionResponse, error) {
	c, err := RequireCaller(ctx)
	if err != nil {
		return nil, err
	}
	o, err := s.Store.Objections().Get(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	latest, err := s.Store.Records().Latest(ctx, o.Resource, o.Subject)
	if exchange.KindOf(err) == exchange.KindNotFound {
		latest = nil
	} else if err != nil {
		return nil, err
	}
	if err := exchange.ResolveObjection(o, objectionStateFromProto(req.GetState()), req.GetResolution(), latest, actor(c), s.Now.now()); err != nil {
		return nil, err
	}
	what := "resolve: " + string(o.State)
	if o.State == exchange.ObjectionCorrected {
		what += fmt.Sprintf(" by record version %d", o.CorrectedVersion)
	}
	if _, err := auditedWrite(ctx, s.Audit, func(ctx context.Context) (ledger.Record, error) {
		if err := s.Store.Objections().Resolve(ctx, o); err != nil {
			return ledger.Record{}, err
		}
		return s.record(c.Department.Code, c.Evidence, o, o.ResolvedAt, what), nil
	}); err != nil {
		return nil, err
	}
	return &exchangev1.ResolveObjectionResponse{Objection: ObjectionToProto(o)}, nil
}

func listAs(as string) string {
	if as == "" {
		return "consumer"
	}
	return as
}
