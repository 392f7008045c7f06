package hub

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gxhub/gxhub/exchange/calendar"
	"github.com/gxhub/gxhub/exchange/server"
)

// loadCalendar returns the base working-day calendar: the embedded one, or the file given
// with --calendar, answering unannounced years provisionally (statutory holidays only).
// The years the coordinator publishes are laid over it at run time (server.LiveCalendar).
func loadCalendar(path string) (*calendar.Calendar, error) {
	if path == "" {
		return calendar.Default().WithProvisional(), nil
	}
	c, err := calendar.Load(path)
	if err != nil {
		return nil, fmt.Errorf("working-day calendar %s: %w", path, err)
	}
	return c.WithProvisional(), nil
}

// calendarCoverage measures the calendar in force at the hub's now.
func (h *Hub) calendarCoverage(ctx context.Context) (calendar.Coverage, *server.CalendarSnapshot, error) {
	snap, err := h.Calendar.Current(ctx)
	return snap.Cal.CoverageAt(h.now()), snap, err
}

// calendarReadiness is the /readyz detail about the calendar: how far it is announced, and
// the early warning or the stored publications it ignores. It never makes the hub
// unready: unannounced years are answered provisionally.
func (h *Hub) calendarReadiness(ctx context.Context) string {
	cv, snap, err := h.calendarCoverage(ctx)
	var b strings.Builder
	if cv.Through != "" {
		fmt.Fprintf(&b, "calendar: announced through %s (%d days left), version %d\n", cv.Through, cv.DaysLeft, snap.Version)
	} else {
		fmt.Fprintf(&b, "calendar: %d is not announced (provisional), version %d\n", cv.NextYear, snap.Version)
	}
	if cv.Warning != "" {
		b.WriteString("warning: " + cv.Warning + "\n")
	}
	for _, p := range snap.Problems {
		b.WriteString("warning: " + p + "\n")
	}
	if err != nil {
		b.WriteString("warning: calendar publications could not be read from the store: " + err.Error() + "\n")
	}
	return b.String()
}

// registerCalendarMetrics exports gxhub_calendar_days_left (announced days from today on,
// 0 once today's year is provisional; the warning starts at calendar.WarnDays) and
// gxhub_calendar_version (the newest publication applied on this replica).
func (h *Hub) registerCalendarMetrics(reg *prometheus.Registry) {
	current := func() (calendar.Coverage, *server.CalendarSnapshot) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		cv, snap, _ := h.calendarCoverage(ctx)
		return cv, snap
	}
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "gxhub_calendar_days_left",
			Help: fmt.Sprintf("Announced working-day calendar days left from today (0: today's year is provisional); publish the next year when it drops to %d.", calendar.WarnDays)},
			func() float64 { cv, _ := current(); return float64(cv.DaysLeft) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "gxhub_calendar_version", Help: "Newest calendar publication in force on this replica (0: none)."},
			func() float64 { _, s := current(); return float64(s.Version) }),
	)
}

// watchCalendar logs the calendar's early warning once a day (Asia/Shanghai) while it
// holds, and the stored publications it ignores, checking every minute.
func (h *Hub) watchCalendar(ctx context.Context) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	lastDay, lastProblems := "", 0
	for {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		cv, snap, err := h.calendarCoverage(cctx)
		cancel()
		if err == nil && len(snap.Problems) != lastProblems {
			lastProblems = len(snap.Problems)
			h.Log.Error("stored calendar publications are ignored", slog.Any("problems", snap.Problems))
		}
		if cv.Warning != "" && cv.Today != lastDay {
			lastDay = cv.Today
			h.Log.Warn("working-day calendar: "+cv.Warning, slog.Int("days_left", cv.DaysLeft), slog.Int("year", cv.NextYear))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
