package server

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/gxhub/gxhub/exchange/calendar"
	"github.com/gxhub/gxhub/exchange/store"
)

// LiveCalendar is the working-day calendar in force on this replica: the base calendar
// (embedded or --calendar, answering unannounced years provisionally) with every
// publication in the store applied. It checks the store's publication version at most every
// CheckEvery (one indexed MAX) and loads only the new publications, so a publication made
// through another replica is used here within CheckEvery without a restart; Refresh makes
// it at once. It implements exchange.WorkingDays and exchange.WorkingTimer.
type LiveCalendar struct {
	Base  *calendar.Calendar
	Store store.CalendarYears
	// CheckEvery bounds how stale the calendar may be (default 1s).
	CheckEvery time.Duration
	Log        *slog.Logger

	loadMu sync.Mutex // one load at a time
	mu     sync.RWMutex
	snap   *CalendarSnapshot
}

// CalendarSnapshot is the calendar at one publication version.
type CalendarSnapshot struct {
	Cal     *calendar.Calendar
	Version int64
	// Problems are stored publications that no longer validate and are ignored.
	Problems []string
	checked  time.Time
}

func (l *LiveCalendar) every() time.Duration {
	if l.CheckEvery > 0 {
		return l.CheckEvery
	}
	return time.Second
}

// Current returns the calendar, reloading it first when the last check is older than
// CheckEvery and the store's version moved. When the store cannot be read it returns the
// last snapshot (if any) with the error.
func (l *LiveCalendar) Current(ctx context.Context) (*CalendarSnapshot, error) {
	l.mu.RLock()
	s := l.snap
	l.mu.RUnlock()
	if s != nil && time.Since(s.checked) < l.every() {
		return s, nil
	}
	return l.load(ctx, false)
}

// Refresh reads the store's version now and loads new publications.
func (l *LiveCalendar) Refresh(ctx context.Context) (*CalendarSnapshot, error) {
	return l.load(ctx, true)
}

func (l *LiveCalendar) load(ctx context.Context, force bool) (*CalendarSnapshot, error) {
	l.loadMu.Lock()
	defer l.loadMu.Unlock()
	l.mu.RLock()
	old := l.snap
	l.mu.RUnlock()
	if !force && old != nil && time.Since(old.checked) < l.every() {
		return old, nil // loaded while this caller waited
	}
	if old == nil {
		old = &CalendarSnapshot{Cal: l.Base}
	}
	v, err := l.Store.Version(ctx)
	if err != nil {
		return l.keep(old, err)
	}
	next := &CalendarSnapshot{Cal: old.Cal, Version: old.Version, Problems: old.Problems, checked: time.Now()}
	for next.Version < v {
		pubs, err := l.Store.Publications(ctx, next.Version, 100)
		if err != nil {
			return l.keep(old, err)
		}
		if len(pubs) == 0 {
			break
		}
		cal, bad := calendar.Apply(next.Cal, pubs)
		next.Cal, next.Version = cal, pubs[len(pubs)-1].Version
		for _, e := range bad {
			next.Problems = append(next.Problems, e.Error())
			if l.Log != nil {
				l.Log.Error("stored calendar publication ignored", slog.String("error", e.Error()))
			}
		}
	}
	l.mu.Lock()
	l.snap = next
	l.mu.Unlock()
	return next, nil
}

// keep returns the previous snapshot when the store could not be read: a replica keeps
// answering with what it had (the error says why it may be stale).
func (l *LiveCalendar) keep(old *CalendarSnapshot, err error) (*CalendarSnapshot, error) {
	if l.Log != nil {
		l.Log.Warn("working-day calendar not refreshed from the store", slog.String("error", err.Error()))
	}
	return old, err
}

// now returns the current calendar for an in-memory computation that has no context.
func (l *LiveCalendar) now() *calendar.Calendar {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, _ := l.Current(ctx) // on error s is the last snapshot, or the base calendar
	return s.Cal
}

// Deadline implements exchange.WorkingDays with the current calendar.
func (l *LiveCalendar) Deadline(from time.Time, n int) (time.Time, bool, error) {
	return l.now().Deadline(from, n)
}

// WorkingTime implements exchange.WorkingTimer with the current calendar.
func (l *LiveCalendar) WorkingTime(from, to time.Time) (time.Duration, bool, error) {
	return l.now().WorkingTime(from, to)
}

// AddWorkingDays implements exchange.WorkingDays' strict form (announced years only).
func (l *LiveCalendar) AddWorkingDays(from time.Time, n int) (time.Time, error) {
	return l.now().AddWorkingDays(from, n)
}

// WorkingTimeBetween implements exchange.WorkingTimer's strict form (announced years only).
func (l *LiveCalendar) WorkingTimeBetween(from, to time.Time) (time.Duration, error) {
	return l.now().WorkingTimeBetween(from, to)
}
