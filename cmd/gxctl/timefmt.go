package main

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// One time format for everything gxctl prints for people: local time (TZ) with its UTC
// offset, or UTC with --utc. JSON output keeps RFC 3339 from the API.

func init() {
	root.PersistentFlags().BoolVar(&global.utc, "utc", false, "print times in UTC instead of local time")
}

// timeLayout is the one layout of printed times: 2026-12-03 16:00:05 +08:00.
const timeLayout = "2006-01-02 15:04:05 -07:00"

// showTime formats t for people (local or --utc), "-" for the zero time.
func showTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	if global.utc {
		return t.UTC().Format(timeLayout)
	}
	return t.Local().Format(timeLayout)
}

// showTS formats a protobuf timestamp ("-" when absent).
func showTS(ts *timestamppb.Timestamp) string {
	if ts == nil {
		return "-"
	}
	return showTime(ts.AsTime())
}

// beijing is the zone of the official working-day calendar: deadlines are calendar days
// there, whatever the reader's zone.
var beijing = time.FixedZone("Asia/Shanghai", 8*3600)

var weekdays = [...]string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}

// showDeadline formats a working-day deadline. A deadline at midnight in Beijing is the
// end of the day before (2026-12-08 00:00 is "end of 2026-12-07 (Mon)"); any other
// instant is printed as a time.
func showDeadline(ts *timestamppb.Timestamp) string {
	if ts == nil {
		return "-"
	}
	t := ts.AsTime().In(beijing)
	if t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 && t.Nanosecond() == 0 {
		day := t.AddDate(0, 0, -1)
		return fmt.Sprintf("end of %s (%s)", day.Format(time.DateOnly), weekdays[day.Weekday()])
	}
	return showTime(t)
}

// showWorkingAge rounds working time (24 h per working day) for people: "1 working day
// 3 h", "5 h", "12 min", "under 1 min".
func showWorkingAge(d *durationpb.Duration) string {
	if d == nil {
		return "-"
	}
	return roundWorking(d.AsDuration())
}

func roundWorking(d time.Duration) string {
	if d < time.Minute {
		return "under 1 min"
	}
	if d < time.Hour {
		return fmt.Sprintf("%d min", int(d.Round(time.Minute)/time.Minute))
	}
	h := int(d.Round(time.Hour) / time.Hour)
	days, hours := h/24, h%24
	switch {
	case days == 0:
		return fmt.Sprintf("%d h", hours)
	case hours == 0:
		return fmt.Sprintf("%d working %s", days, plural(days, "day"))
	default:
		return fmt.Sprintf("%d working %s %d h", days, plural(days, "day"), hours)
	}
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
