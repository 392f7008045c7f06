package server

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/calendar"
	"github.com/gxhub/gxhub/exchange/store"
	"github.com/gxhub/gxhub/ledger"
	certsv1 "github.com/gxhub/gxhub/sdk/api/certs/v1"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
)

// Calendar implements gxhub.exchange.v1.CalendarService over the working-day calendar in
// force (LiveCalendar): public reading, and publication by the coordinator (F5).
type Calendar struct {
	exchangev1.UnimplementedCalendarServiceServer
	Live  *LiveCalendar
	Store store.Store
	// Audit makes each publication an audited write: its calendar.publish record commits with it.
	Audit *store.AuditWriter
	// Requirements, when set, recomputes provisional deadlines after a publication.
	Requirements *Requirements
	Log          *slog.Logger
	Now          func() time.Time
}

func (c *Calendar) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Calendar) current(ctx context.Context) *calendar.Calendar {
	s, _ := c.Live.Current(ctx) // on a store error: the last calendar this replica had
	return s.Cal
}

func calendarErr(err error) error {
	var ny *calendar.YearNotAnnouncedError
	if errors.As(err, &ny) {
		return exchange.Wrap(exchange.KindFailedPrecondition, "CALENDAR_YEAR_NOT_ANNOUNCED", err, "no official working-day calendar for %d: %v", ny.Year, err)
	}
	return exchange.Wrap(exchange.KindInvalid, "CALENDAR_QUERY_INVALID", err, "calendar query refused: %v", err)
}

// GetWorkday reports whether a date (Asia/Shanghai) is a working day and why.
func (c *Calendar) GetWorkday(ctx context.Context, req *exchangev1.GetWorkdayRequest) (*exchangev1.Workday, error) {
	t, err := time.ParseInLocation(time.DateOnly, req.GetDate(), calendar.Location())
	if err != nil {
		return nil, exchange.Errorf(exchange.KindInvalid, "DATE_INVALID", "date %q must be YYYY-MM-DD", req.GetDate())
	}
	d, err := c.current(ctx).Day(t)
	if err != nil {
		return nil, calendarErr(err)
	}
	return &exchangev1.Workday{Date: d.Date, Working: d.Working, HolidayName: d.HolidayName, MakeupWorkday: d.Makeup, Weekend: d.Weekend, Provisional: d.Provisional}, nil
}

// AddWorkingDays returns the deadline n working days after from.
func (c *Calendar) AddWorkingDays(ctx context.Context, req *exchangev1.AddWorkingDaysRequest) (*exchangev1.AddWorkingDaysResponse, error) {
	if req.GetFrom() == nil {
		return nil, exchange.Errorf(exchange.KindInvalid, "FROM_MISSING", "from is required (RFC 3339 timestamp)")
	}
	if req.GetDays() < 1 || req.GetDays() > 366 {
		return nil, exchange.Errorf(exchange.KindInvalid, "DAYS_INVALID", "days must be between 1 and 366, got %d", req.GetDays())
	}
	end, prov, err := c.current(ctx).Deadline(req.GetFrom().AsTime(), int(req.GetDays()))
	if err != nil {
		return nil, calendarErr(err)
	}
	return &exchangev1.AddWorkingDaysResponse{Deadline: timestamppb.New(end), DeadlineDate: end.Add(-time.Nanosecond).In(calendar.Location()).Format(time.DateOnly), Provisional: prov}, nil
}

// CountWorkingDays counts working days and working time between two instants.
func (c *Calendar) CountWorkingDays(ctx context.Context, req *exchangev1.CountWorkingDaysRequest) (*exchangev1.CountWorkingDaysResponse, error) {
	if req.GetFrom() == nil || req.GetTo() == nil {
		return nil, exchange.Errorf(exchange.KindInvalid, "RANGE_MISSING", "from and to are required (RFC 3339 timestamps)")
	}
	from, to := req.GetFrom().AsTime(), req.GetTo().AsTime()
	if to.Before(from) {
		return nil, exchange.Errorf(exchange.KindInvalid, "RANGE_INVALID", "to (%s) is before from (%s)", to.Format(time.RFC3339), from.Format(time.RFC3339))
	}
	cal := c.current(ctx)
	n, p1, err := cal.CountWorkingDays(from, to)
	if err != nil {
		return nil, calendarErr(err)
	}
	wt, p2, err := cal.WorkingTime(from, to)
	if err != nil {
		return nil, calendarErr(err)
	}
	return &exchangev1.CountWorkingDaysResponse{WorkingDays: int32(n), WorkingTime: durationpb.New(wt), Provisional: p1 || p2}, nil
}

// CoverageToProto converts for the wire.
func CoverageToProto(cv calendar.Coverage) *exchangev1.CalendarCoverage {
	return &exchangev1.CalendarCoverage{Today: cv.Today, Through: cv.Through, DaysLeft: int32(cv.DaysLeft), NextYear: int32(cv.NextYear), Warning: cv.Warning}
}

// ListCalendarYears lists the announced years with their sources, the provisional years
// up to the year after this one, and the coverage.
func (c *Calendar) ListCalendarYears(ctx context.Context, _ *exchangev1.ListCalendarYearsRequest) (*exchangev1.ListCalendarYearsResponse, error) {
	snap, err := c.Live.Current(ctx)
	if err != nil && snap.Version == 0 {
		return nil, err
	}
	cal, now := snap.Cal, c.now()
	resp := &exchangev1.ListCalendarYearsResponse{Version: snap.Version, Coverage: CoverageToProto(cal.CoverageAt(now)), Problems: snap.Problems}
	years := cal.Years()
	last := now.In(calendar.Location()).Year() + 1
	first := last
	if len(years) > 0 {
		first = min(years[0], first)
		last = max(years[len(years)-1]+1, last)
	}
	for y := first; y <= last; y++ {
		src, ok := cal.YearSource(y)
		if !ok {
			continue
		}
		cy := &exchangev1.CalendarYear{Year: int32(y), Source: string(src.Kind), SourceText: src.Text, Version: src.Version, PublishedBy: src.By}
		if !src.At.IsZero() {
			cy.PublishedAt = timestamppb.New(src.At)
		}
		resp.Years = append(resp.Years, cy)
	}
	return resp, nil
}

// PublicationToProto converts for the wire.
func PublicationToProto(p calendar.Publication) *exchangev1.CalendarPublication {
	out := &exchangev1.CalendarPublication{Version: p.Version, File: string(p.File), Replace: p.Replace, Reason: p.Reason, By: p.By,
		Operator: p.Operator, At: ts(p.At), Evidence: p.Evidence, BodyDigest: p.BodyDigest}
	for _, y := range p.Years {
		out.Years = append(out.Years, int32(y))
	}
	return out
}

// ListCalendarPublications lists every publication, oldest first.
func (c *Calendar) ListCalendarPublications(ctx context.Context, _ *exchangev1.ListCalendarPublicationsRequest) (*exchangev1.ListCalendarPublicationsResponse, error) {
	resp := &exchangev1.ListCalendarPublicationsResponse{}
	var after int64
	for {
		page, err := c.Store.CalendarYears().Publications(ctx, after, 1000)
		if err != nil {
			return nil, err
		}
		for _, p := range page {
			resp.Publications = append(resp.Publications, PublicationToProto(p))
		}
		if len(page) < 1000 {
			return resp, nil
		}
		after = page[len(page)-1].Version
	}
}

// maxCalendarFile bounds a published file: a year is about 1 KB.
const maxCalendarFile = 256 << 10

func publishErr(err error) error {
	var pe *calendar.PublishError
	if !errors.As(err, &pe) {
		return err
	}
	kind := exchange.KindInvalid
	if pe.Reason == calendar.ReasonYearAnnounced {
		kind = exchange.KindFailedPrecondition
	}
	return exchange.Errorf(kind, pe.Reason, "%s", pe.Msg)
}

// PublishCalendar validates, stores, audits and applies a coordinator's publication, then
// recomputes the provisional deadlines it settles.
func (c *Calendar) PublishCalendar(ctx context.Context, req *exchangev1.PublishCalendarRequest) (*exchangev1.PublishCalendarResponse, error) {
	caller, err := RequireRole(ctx, exchange.RoleCoordinator)
	if err != nil {
		return nil, err
	}
	file := []byte(req.GetFile())
	if len(file) == 0 {
		return nil, exchange.Errorf(exchange.KindInvalid, calendar.ReasonFileInvalid, `file is empty: send the calendar JSON ({"source": …, "years": {"2027": {"holidays": […], "makeup_workdays": […]}}}) as the file field`)
	}
	if len(file) > maxCalendarFile {
		return nil, exchange.Errorf(exchange.KindInvalid, calendar.ReasonFileInvalid, "file is %d bytes; a calendar file is a few KB per year (at most %d bytes): check what you sent", len(file), maxCalendarFile)
	}
	var (
		stored calendar.Publication
		idx    uint64
	)
	digest := sm.Sum([]byte(caller.Evidence))
	fileDigest := sm.Sum(file)
	for attempt := 0; ; attempt++ {
		snap, err := c.Live.Refresh(ctx)
		if err != nil {
			return nil, err
		}
		parsed, years, err := calendar.PreparePublication(snap.Cal, file, req.GetReplace(), req.GetReason())
		if err != nil {
			return nil, publishErr(err)
		}
		label := req.GetOperator() // a display label when the department's own key signs
		if caller.Operator != nil {
			label = caller.OperatorID()
		}
		p := calendar.Publication{Years: years, File: file, Replace: req.GetReplace(), Reason: strings.TrimSpace(req.GetReason()),
			By: caller.Department.Code, Operator: label, At: c.now().UTC().Truncate(time.Microsecond),
			Evidence: caller.Evidence, BodyDigest: caller.BodyDigest}
		idx, err = auditedWrite(ctx, c.Audit, func(ctx context.Context) (ledger.Record, error) {
			var err error
			if stored, err = c.Store.CalendarYears().Publish(ctx, p, snap.Version); err != nil {
				return ledger.Record{}, err
			}
			src, _ := parsed.YearSource(stored.Years[0])
			summary := fmt.Sprintf("calendar v%d: published %s (source: %s; file SM3 %s)", stored.Version, yearsList(stored.Years),
				src.Text, hex.EncodeToString(fileDigest[:]))
			if stored.Replace {
				summary += "; replace requested: " + stored.Reason
			}
			return ledger.Record{Kind: ledger.KindCalendarPublish, Time: stored.At, Department: stored.By, Operator: stored.Operator,
				Resource: "calendar", Outcome: ledger.OutcomeOK, Reason: summary, RequestID: fmt.Sprintf("calendar-v%d", stored.Version), ResponseDigest: digest[:]}, nil
		})
		if err == nil {
			break
		}
		if !errors.Is(err, store.ErrCalendarConflict) || attempt == 2 {
			return nil, err
		}
		// Another publication came first: check this one again over it.
	}
	if _, err := c.Live.Refresh(ctx); err != nil && c.Log != nil {
		c.Log.WarnContext(ctx, "calendar published but not reloaded here yet", slog.String("error", err.Error()))
	}
	resp := &exchangev1.PublishCalendarResponse{Publication: PublicationToProto(stored), AuditReference: idx}
	if c.Log != nil {
		c.Log.InfoContext(ctx, "working-day calendar published", slog.Int64("version", stored.Version), slog.Any("years", stored.Years),
			slog.String("by", stored.By), slog.Bool("replace", stored.Replace))
	}
	if c.Requirements != nil {
		n, err := c.Requirements.RecomputeProvisional(ctx)
		if err != nil && c.Log != nil {
			c.Log.WarnContext(ctx, "recompute provisional deadlines", slog.String("error", err.Error()))
		}
		resp.RecomputedDeadlines = int32(n)
	}
	return resp, nil
}

func yearsList(ys []int) string {
	parts := make([]string, len(ys))
	for i, y := range ys {
		parts[i] = strconv.Itoa(y)
	}
	return strings.Join(parts, ", ")
}

// Trust implements gxhub.certs.v1.TrustService: the certificates a verifier needs.
type Trust struct {
	certsv1.UnimplementedTrustServiceServer
	RootPEM    string
	IssuingPEM []string
	TLSCAPEM   string
}

// GetTrustBundle returns the hub's SM2 root, issuing CAs and its TLS CA.
func (t *Trust) GetTrustBundle(context.Context, *certsv1.GetTrustBundleRequest) (*certsv1.TrustBundle, error) {
	return &certsv1.TrustBundle{RootCaPem: t.RootPEM, IssuingCaPem: t.IssuingPEM, TlsCaPem: t.TLSCAPEM}, nil
}
