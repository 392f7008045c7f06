package hub_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gxhub/gxhub/cmd/gxhub/internal/config"
	"github.com/gxhub/gxhub/cmd/gxhub/internal/hub"
	"github.com/gxhub/gxhub/exchange/calendar"
	"github.com/gxhub/gxhub/sdk"
	auditv1 "github.com/gxhub/gxhub/sdk/api/audit/v1"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
)

// madeUp2027 is a MADE-UP 2027 working-day calendar for tests: the State Council had not
// published its 2027 notice when this test was written. The file keeps 2027's statutory
// holidays (so the hub accepts it) and makes 元旦 run to Monday 2027-01-04, so that
// deadlines and freshness computed provisionally across New Year change when it is
// published. Its "about" says the same.
func madeUp2027(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../../../exchange/calendar/testdata/2027-made-up.json")
	require.NoError(t, err)
	require.Contains(t, string(b), "MADE UP FOR TESTS")
	return string(b)
}

// TestCalendarRunsIntoAnUnannouncedYear is the hub across New Year 2027 before the 2027
// notice: on 2026-12-28 a deadline and a freshness that reach into 2027 are computed and
// marked provisional, the coordinator is warned, and after the coordinator publishes
// (a made-up) 2027 they are official, the requirement's deadline is recomputed in its
// history, and the publication is stored, signed and audited. Refusals store nothing.
func TestCalendarRunsIntoAnUnannouncedYear(t *testing.T) {
	for name, pg := range map[string]bool{"sqlite": false, "postgres": true} {
		t.Run(name, func(t *testing.T) { testCalendarAcrossNewYear(t, pg) })
	}
}

func testCalendarAcrossNewYear(t *testing.T, pg bool) {
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 12, 28, 10, 0, 0, 0, cstZone)}
	eh := startHubAt(t, clk, pg)
	anon, err := sdk.Dial(ctx, nil, sdk.WithURL(eh.url))
	require.NoError(t, err)
	defer anon.Close()
	coord := eh.c(t, dCoordinator)

	// 2026-12-28: the calendar answers for 2027, provisionally.
	day, err := anon.Calendar.GetWorkday(ctx, &exchangev1.GetWorkdayRequest{Date: "2027-01-04"})
	require.NoError(t, err)
	require.True(t, day.GetProvisional())
	require.True(t, day.GetWorking())
	code, body := eh.rest(t, "GET", "/v1/calendar/days/2027-01-01", "", nil)
	require.Equal(t, http.StatusOK, code, "%v", body)
	require.Equal(t, true, body["provisional"])
	require.Equal(t, "元旦", body["holiday_name"])
	dl, err := anon.Calendar.AddWorkingDays(ctx, &exchangev1.AddWorkingDaysRequest{From: timestamppb.New(clk.Now()), Days: 5})
	require.NoError(t, err)
	require.True(t, dl.GetProvisional())
	require.Equal(t, "2027-01-05", dl.GetDeadlineDate())
	years, err := anon.Calendar.ListCalendarYears(ctx, &exchangev1.ListCalendarYearsRequest{})
	require.NoError(t, err)
	require.Equal(t, []string{"2024 embedded", "2025 embedded", "2026 embedded", "2027 provisional"}, yearSources(years))
	require.Equal(t, int32(4), years.GetCoverage().GetDaysLeft())
	require.Contains(t, years.GetCoverage().GetWarning(), "announced through 2026-12-31 (4 days left)")
	requireMetric(t, eh, "gxhub_calendar_days_left 4")
	ready := eh.get200(t, "/readyz")
	require.Contains(t, ready, "ready\ncalendar: announced through 2026-12-31 (4 days left), version 0\nwarning: the working-day calendar is announced through 2026-12-31")

	// A requirement to an unpublished conditional resource: its 10-working-day answer
	// deadline runs into 2027.
	_, err = eh.c(t, dMarket).Freshness.Heartbeat(ctx, &exchangev1.HeartbeatRequest{Resource: "500000-SCJG-0001"})
	require.NoError(t, err)
	req := eh.file(t, dFund, "500000-BDC-0001", "owner_name", "location")
	require.False(t, req.GetDeadlineProvisional(), "the review deadline (2 working days) stays in 2026")
	accepted, err := eh.decide(t, dCoordinator, req.GetId(), "accept_complete", "")
	require.NoError(t, err)
	require.Equal(t, "awaiting_provider", accepted.GetState())
	require.True(t, accepted.GetDeadlineProvisional())
	require.Equal(t, int32(10), accepted.GetDeadlineWorkingDays())
	require.Equal(t, time.Date(2027, 1, 13, 0, 0, 0, 0, cstZone), accepted.GetDeadline().AsTime().In(cstZone))

	// 2027-01-10, still no notice: freshness across New Year is measured, provisionally.
	clk.Set(time.Date(2027, 1, 10, 10, 0, 0, 0, cstZone))
	f := freshnessOf(t, coord, "500000-SCJG-0001")
	require.True(t, f.GetProvisional())
	require.True(t, f.GetStale())
	require.Empty(t, f.GetStatus(), "measured, not refused")
	require.Equal(t, (14+3*24+5*24)*time.Hour, f.GetWorkingAge().AsDuration()) // 12-28 10:00–24:00, 12-29..31, 01-04..08
	got := eh.get(t, dFund, req.GetId())
	require.Equal(t, "awaiting_provider", got.GetState())
	require.True(t, got.GetDeadlineProvisional())
	requireMetric(t, eh, "gxhub_calendar_days_left 0")
	require.Contains(t, eh.get200(t, "/readyz"), "calendar: 2027 is not announced (provisional)")

	t.Run("fail/a non-coordinator cannot publish", func(t *testing.T) {
		_, err := eh.c(t, dFund).Calendar.PublishCalendar(ctx, &exchangev1.PublishCalendarRequest{File: madeUp2027(t)})
		requireReason(t, err, codes.PermissionDenied, "ROLE_REQUIRED")
		_, err = eh.c(t, dMarket).Calendar.PublishCalendar(ctx, &exchangev1.PublishCalendarRequest{File: madeUp2027(t)})
		requireReason(t, err, codes.PermissionDenied, "ROLE_REQUIRED")
		requireNoPublication(t, anon)
	})
	t.Run("fail/a malformed year file is refused with a clear error", func(t *testing.T) {
		for _, tc := range []struct{ file, reason, says string }{
			{`{"source":"s","years":{"2027":{"holidays":[{"name":"元旦","from":"2027-01-03","to":"2027-01-01"}]}}}`, "CALENDAR_FILE_INVALID", "from 2027-01-03 is after to 2027-01-01"},
			{`{"source":"s","years":{"2027":{"holidays":[{"name":"元旦","from":"2027-12-31","to":"2028-01-01"}]}}}`, "CALENDAR_FILE_INVALID", "2028-01-01 is outside 2027"},
			{`{"source":"s","years":{"2027":{"holidays":[{"name":"元旦","from":"2027-01-01","to":"2027-01-03"}],"makeup_workdays":["2027-01-02"]}}}`, "CALENDAR_FILE_INVALID", "both a make-up working day and part of holiday"},
			{strings.Replace(madeUp2027(t), `"2027-10-07"`, `"2027-10-02"`, 1), "CALENDAR_STATUTORY_HOLIDAY_MISSING", "2027-10-03 (国庆节) is a statutory public holiday"},
			{strings.Replace(madeUp2027(t), `"source"`, `"sauce"`, 1), "CALENDAR_FILE_INVALID", `unknown field "sauce"`},
			{"", "CALENDAR_FILE_INVALID", "file is empty"},
		} {
			_, err := coord.Calendar.PublishCalendar(ctx, &exchangev1.PublishCalendarRequest{File: tc.file})
			requireReason(t, err, codes.InvalidArgument, tc.reason)
			require.Contains(t, err.Error(), tc.says)
		}
		// Over REST too: a 400 with the reason and what to do.
		me := eh.identity(t, dCoordinator)
		body := []byte(`{"file":"{\"source\":\"s\",\"years\":{\"2027\":{\"holidays\":[]}}}"}`)
		code, resp := eh.rest(t, "POST", "/v1/calendar/years", sign(t, me, "POST", "/v1/calendar/years", body, clk.Now()), body)
		require.Equal(t, http.StatusBadRequest, code, "%v", resp)
		require.Equal(t, "CALENDAR_FILE_INVALID", resp["reason"])
		require.Contains(t, resp["message"], `"holidays" is missing or empty`)
		requireNoPublication(t, anon)
	})

	// The coordinator publishes 2027 (made up).
	pub, err := coord.Calendar.PublishCalendar(ctx, &exchangev1.PublishCalendarRequest{File: madeUp2027(t), Operator: "张三"})
	require.NoError(t, err)
	require.Equal(t, int64(1), pub.GetPublication().GetVersion())
	require.Equal(t, []int32{2027}, pub.GetPublication().GetYears())
	require.Equal(t, eh.code(t, dCoordinator), pub.GetPublication().GetBy())
	require.True(t, strings.HasPrefix(pub.GetPublication().GetEvidence(), "GXHUB-SM2 "), "the signed request is kept as evidence")
	require.NotEmpty(t, pub.GetPublication().GetBodyDigest())
	require.Equal(t, madeUp2027(t), pub.GetPublication().GetFile())
	require.Equal(t, int32(1), pub.GetRecomputedDeadlines())

	rec, err := coord.Audit.GetRecord(ctx, &auditv1.GetRecordRequest{Index: pub.GetAuditReference()})
	require.NoError(t, err)
	require.Equal(t, "calendar.publish", rec.GetKind())
	require.Equal(t, eh.code(t, dCoordinator), rec.GetDepartment())
	require.Empty(t, rec.GetOperator(), "the department's own key signed: an operator name the request claims is a label of the publication, never the audited operator")
	require.Contains(t, rec.GetReason(), "calendar v1: published 2027")

	// Now official: the calendar, the requirement's deadline (recomputed, in its history)
	// and freshness.
	day, err = anon.Calendar.GetWorkday(ctx, &exchangev1.GetWorkdayRequest{Date: "2027-01-04"})
	require.NoError(t, err)
	require.False(t, day.GetProvisional())
	require.Equal(t, "元旦", day.GetHolidayName())
	got = eh.get(t, dFund, req.GetId())
	require.False(t, got.GetDeadlineProvisional())
	require.Equal(t, time.Date(2027, 1, 14, 0, 0, 0, 0, cstZone), got.GetDeadline().AsTime().In(cstZone), "01-04 is off in the made-up 2027")
	last := got.GetDecisions()[len(got.GetDecisions())-1]
	require.Equal(t, "recompute_deadline", last.GetAction())
	require.Equal(t, "system", last.GetBy())
	require.Contains(t, last.GetComment(), "computed provisionally as 2027-01-13 00:00 CST, moves to 2027-01-14 00:00 CST")
	f = freshnessOf(t, coord, "500000-SCJG-0001")
	require.False(t, f.GetProvisional())
	require.Equal(t, (14+3*24+4*24)*time.Hour, f.GetWorkingAge().AsDuration())
	years, err = anon.Calendar.ListCalendarYears(ctx, &exchangev1.ListCalendarYearsRequest{})
	require.NoError(t, err)
	require.Equal(t, []string{"2024 embedded", "2025 embedded", "2026 embedded", "2027 published", "2028 provisional"}, yearSources(years))
	require.Equal(t, int64(1), years.GetVersion())
	y27 := years.GetYears()[3]
	require.Equal(t, eh.code(t, dCoordinator), y27.GetPublishedBy())
	require.Equal(t, int64(1), y27.GetVersion())
	require.Equal(t, clk.Now().UTC(), y27.GetPublishedAt().AsTime())
	require.Empty(t, years.GetCoverage().GetWarning())
	requireMetric(t, eh, "gxhub_calendar_days_left 356")
	require.Contains(t, eh.get200(t, "/readyz"), "calendar: announced through 2027-12-31 (356 days left), version 1\n")

	t.Run("fail/replacing a published year needs replace and a reason", func(t *testing.T) {
		_, err := coord.Calendar.PublishCalendar(ctx, &exchangev1.PublishCalendarRequest{File: madeUp2027(t)})
		requireReason(t, err, codes.FailedPrecondition, "CALENDAR_YEAR_ANNOUNCED")
		require.Contains(t, err.Error(), "2027 is already announced (published as version 1 by "+eh.code(t, dCoordinator))
		_, err = coord.Calendar.PublishCalendar(ctx, &exchangev1.PublishCalendarRequest{File: madeUp2027(t), Replace: true})
		requireReason(t, err, codes.InvalidArgument, "CALENDAR_REPLACE_REASON_MISSING")
		ps, err := anon.Calendar.ListCalendarPublications(ctx, &exchangev1.ListCalendarPublicationsRequest{})
		require.NoError(t, err)
		require.Len(t, ps.GetPublications(), 1)
	})
	t.Run("ok/a replacement with a reason is a new, audited version", func(t *testing.T) {
		r, err := coord.Calendar.PublishCalendar(ctx, &exchangev1.PublishCalendarRequest{File: madeUp2027(t), Replace: true, Reason: "核对国办通知后重新发布"})
		require.NoError(t, err)
		require.Equal(t, int64(2), r.GetPublication().GetVersion())
		rec, err := coord.Audit.GetRecord(ctx, &auditv1.GetRecordRequest{Index: r.GetAuditReference()})
		require.NoError(t, err)
		require.Contains(t, rec.GetReason(), "replace requested: 核对国办通知后重新发布")
		ps, err := anon.Calendar.ListCalendarPublications(ctx, &exchangev1.ListCalendarPublicationsRequest{})
		require.NoError(t, err)
		require.Len(t, ps.GetPublications(), 2)
		require.Equal(t, "核对国办通知后重新发布", ps.GetPublications()[1].GetReason())
	})
}

// TestCalendarReplicasSeePublicationWithoutRestart runs two hubs on one PostgreSQL schema:
// a publication through one is used by the other within seconds, without a restart.
func TestCalendarReplicasSeePublicationWithoutRestart(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 12, 28, 10, 0, 0, 0, cstZone)}
	first := startHubAt(t, clk, true)
	replica := startClockedReplica(t, first)
	anon, err := sdk.Dial(ctx, nil, sdk.WithURL(replica))
	require.NoError(t, err)
	defer anon.Close()

	day, err := anon.Calendar.GetWorkday(ctx, &exchangev1.GetWorkdayRequest{Date: "2027-01-04"})
	require.NoError(t, err)
	require.True(t, day.GetProvisional(), "the replica answers 2027 provisionally")

	_, err = first.c(t, dCoordinator).Calendar.PublishCalendar(ctx, &exchangev1.PublishCalendarRequest{File: madeUp2027(t)})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		day, err := anon.Calendar.GetWorkday(ctx, &exchangev1.GetWorkdayRequest{Date: "2027-01-04"})
		return err == nil && !day.GetProvisional() && day.GetHolidayName() == "元旦"
	}, 30*time.Second, 20*time.Millisecond, "the replica uses the published 2027")
	dl, err := anon.Calendar.AddWorkingDays(ctx, &exchangev1.AddWorkingDaysRequest{From: timestamppb.New(clk.Now()), Days: 5})
	require.NoError(t, err)
	require.False(t, dl.GetProvisional())
	require.Equal(t, "2027-01-06", dl.GetDeadlineDate())
}

// startClockedReplica runs another hub on first's PostgreSQL schema with a copy of its data
// directory and the same clock, and returns its URL.
func startClockedReplica(t *testing.T, first *exchangeHub) string {
	t.Helper()
	cfg := first.h.Config
	cfg.DataDir = t.TempDir()
	require.NoError(t, os.CopyFS(cfg.DataDir, os.DirFS(first.h.Config.DataDir)))
	_, url := serveCopy(t, cfg, hub.WithClock(first.clock.Now))
	return url
}

func yearSources(r *exchangev1.ListCalendarYearsResponse) []string {
	var out []string
	for _, y := range r.GetYears() {
		out = append(out, strconv.Itoa(int(y.GetYear()))+" "+y.GetSource())
	}
	return out
}

func requireNoPublication(t *testing.T, anon *sdk.Client) {
	t.Helper()
	ps, err := anon.Calendar.ListCalendarPublications(context.Background(), &exchangev1.ListCalendarPublicationsRequest{})
	require.NoError(t, err)
	require.Empty(t, ps.GetPublications(), "a refused publication stores nothing")
	y, err := anon.Calendar.ListCalendarYears(context.Background(), &exchangev1.ListCalendarYearsRequest{})
	require.NoError(t, err)
	require.Zero(t, y.GetVersion())
}

func freshnessOf(t *testing.T, c *sdk.Client, resource string) *exchangev1.ResourceFreshness {
	t.Helper()
	l, err := c.Freshness.ListFreshness(context.Background(), &exchangev1.ListFreshnessRequest{})
	require.NoError(t, err)
	for _, r := range l.GetResources() {
		if r.GetResource() == resource {
			return r
		}
	}
	t.Fatalf("no freshness for %s", resource)
	return nil
}

func (th *testHub) get200(t *testing.T, path string) string {
	t.Helper()
	resp, err := th.http.Get(th.url + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", path, b)
	return string(b)
}

func requireMetric(t *testing.T, eh *exchangeHub, line string) {
	t.Helper()
	require.Contains(t, strings.Split(eh.get200(t, "/metrics"), "\n"), line)
}

// lockedBuffer collects log output written from the hub's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// TestCalendarWarningIsLogged: on 2026-12-03 a serving hub logs the calendar's early warning
// (it checks every minute and logs once per day).
func TestCalendarWarningIsLogged(t *testing.T) {
	clk := &clock{t: time.Date(2026, 12, 3, 9, 0, 0, 0, cstZone)}
	cfg := config.Default()
	cfg.DataDir, cfg.Insecure = t.TempDir(), true
	var logs lockedBuffer
	serveLogged(t, cfg, slog.New(slog.NewTextHandler(&logs, nil)), hub.WithClock(clk.Now))
	require.Eventually(t, func() bool {
		return strings.Contains(logs.String(), `level=WARN msg="working-day calendar: the working-day calendar is announced through 2026-12-31 (29 days left)`)
	}, 30*time.Second, 20*time.Millisecond, "logs: %s", logs.String())
	require.Contains(t, logs.String(), "days_left=29 year=2027")
}

// TestCalendarStoredPublicationIsCheckedAgain: an insider with database access writes a
// publication that skips the API (no signature, a statutory holiday dropped). Every replica
// re-validates what it loads: the row is ignored and reported, and 2027 stays provisional.
func TestCalendarStoredPublicationIsCheckedAgain(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 12, 28, 10, 0, 0, 0, cstZone)}
	eh := startHubAt(t, clk)
	forged := strings.Replace(madeUp2027(t), `"2027-10-07"`, `"2027-10-02"`, 1) // 国庆 10-03 becomes a working day
	_, err := eh.h.Store.CalendarYears().Publish(ctx, calendar.Publication{Years: []int{2027}, File: []byte(forged), By: "insider", At: clk.Now()}, 0)
	require.NoError(t, err)

	anon, err := sdk.Dial(ctx, nil, sdk.WithURL(eh.url))
	require.NoError(t, err)
	defer anon.Close()
	require.Eventually(t, func() bool {
		y, err := anon.Calendar.ListCalendarYears(ctx, &exchangev1.ListCalendarYearsRequest{})
		return err == nil && y.GetVersion() == 1
	}, 30*time.Second, 20*time.Millisecond)
	y, err := anon.Calendar.ListCalendarYears(ctx, &exchangev1.ListCalendarYearsRequest{})
	require.NoError(t, err)
	require.Len(t, y.GetProblems(), 1)
	require.Contains(t, y.GetProblems()[0], "calendar publication version 1 (by insider")
	require.Contains(t, y.GetProblems()[0], "2027-10-03 (国庆节) is a statutory public holiday")
	require.Contains(t, yearSources(y), "2027 provisional")
	day, err := anon.Calendar.GetWorkday(ctx, &exchangev1.GetWorkdayRequest{Date: "2027-10-03"})
	require.NoError(t, err)
	require.False(t, day.GetWorking(), "the forged working day is not used")
	require.True(t, day.GetProvisional())
	require.Contains(t, eh.get200(t, "/readyz"), "warning: calendar publication version 1 (by insider")
}
