package server

import (
	"context"
	"errors"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/calendar"
	certsv1 "github.com/gxhub/gxhub/sdk/api/certs/v1"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
)

// Calendar implements gxhub.exchange.v1.CalendarService over the official working-day
// calendar. It is public reference data.
type Calendar struct {
	exchangev1.UnimplementedCalendarServiceServer
	Cal *calendar.Calendar
}

func calendarErr(err error) error {
	var ny *calendar.YearNotAnnouncedError
	if errors.As(err, &ny) {
		return exchange.Wrap(exchange.KindFailedPrecondition, "CALENDAR_YEAR_NOT_ANNOUNCED", err, "no official working-day calendar for %d", ny.Year)
	}
	return exchange.Wrap(exchange.KindInvalid, "CALENDAR_QUERY_INVALID", err, "calendar query refused")
}

// GetWorkday reports whether a date (Asia/Shanghai) is a working day and why.
func (c *Calendar) GetWorkday(_ context.Context, req *exchangev1.GetWorkdayRequest) (*exchangev1.Workday, error) {
	t, err := time.ParseInLocation(time.DateOnly, req.GetDate(), calendar.Location())
	if err != nil {
		return nil, exchange.Errorf(exchange.KindInvalid, "DATE_INVALID", "date %q must be YYYY-MM-DD", req.GetDate())
	}
	d, err := c.Cal.Day(t)
	if err != nil {
		return nil, calendarErr(err)
	}
	return &exchangev1.Workday{Date: d.Date, Working: d.Working, HolidayName: d.HolidayName, MakeupWorkday: d.Makeup, Weekend: d.Weekend}, nil
}

// AddWorkingDays returns the deadline n working days after from.
func (c *Calendar) AddWorkingDays(_ context.Context, req *exchangev1.AddWorkingDaysRequest) (*exchangev1.AddWorkingDaysResponse, error) {
	if req.GetFrom() == nil {
		return nil, exchange.Errorf(exchange.KindInvalid, "FROM_MISSING", "from is required (RFC 3339 timestamp)")
	}
	if req.GetDays() < 1 || req.GetDays() > 366 {
		return nil, exchange.Errorf(exchange.KindInvalid, "DAYS_INVALID", "days must be between 1 and 366, got %d", req.GetDays())
	}
	end, err := c.Cal.AddWorkingDays(req.GetFrom().AsTime(), int(req.GetDays()))
	if err != nil {
		return nil, calendarErr(err)
	}
	return &exchangev1.AddWorkingDaysResponse{Deadline: timestamppb.New(end), DeadlineDate: end.Add(-time.Nanosecond).In(calendar.Location()).Format(time.DateOnly)}, nil
}

// CountWorkingDays counts working days and working time between two instants.
func (c *Calendar) CountWorkingDays(_ context.Context, req *exchangev1.CountWorkingDaysRequest) (*exchangev1.CountWorkingDaysResponse, error) {
	if req.GetFrom() == nil || req.GetTo() == nil {
		return nil, exchange.Errorf(exchange.KindInvalid, "RANGE_MISSING", "from and to are required (RFC 3339 timestamps)")
	}
	from, to := req.GetFrom().AsTime(), req.GetTo().AsTime()
	if to.Before(from) {
		return nil, exchange.Errorf(exchange.KindInvalid, "RANGE_INVALID", "to (%s) is before from (%s)", to.Format(time.RFC3339), from.Format(time.RFC3339))
	}
	n, err := c.Cal.WorkingDaysBetween(from, to)
	if err != nil {
		return nil, calendarErr(err)
	}
	wt, err := c.Cal.WorkingTimeBetween(from, to)
	if err != nil {
		return nil, calendarErr(err)
	}
	return &exchangev1.CountWorkingDaysResponse{WorkingDays: int32(n), WorkingTime: durationpb.New(wt)}, nil
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
