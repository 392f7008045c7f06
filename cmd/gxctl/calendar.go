package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/timestamppb"

	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
)

func init() { root.AddCommand(calendarCmd()) }

func calendarCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "calendar", Short: "Official working-day calendar (reading is public: no identity needed, only --hub; publish: coordinator)"}
	day := &cobra.Command{
		Use:   "day YYYY-MM-DD",
		Short: "Is the date a working day? (weekends, public holidays, make-up working days)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ctx, done, err := connect(cmd, false)
			if err != nil {
				return err
			}
			defer done()
			d, err := c.Calendar.GetWorkday(ctx, &exchangev1.GetWorkdayRequest{Date: args[0]})
			if err != nil {
				return callErr(err)
			}
			if global.json {
				return printProto(cmd.OutOrStdout(), d)
			}
			kind := "working day"
			switch {
			case d.GetMakeupWorkday():
				kind = "working day (调休上班, make-up working day)"
			case d.GetHolidayName() != "":
				kind = "holiday: " + d.GetHolidayName()
			case d.GetWeekend():
				kind = "weekend"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s  %s%s\n", d.GetDate(), kind, provisionalNote(d.GetProvisional()))
			return nil
		},
	}
	add := &cobra.Command{
		Use:   "deadline FROM N",
		Short: "The deadline N working days after FROM (YYYY-MM-DD or RFC 3339)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			from, err := parseWhen(args[0])
			if err != nil {
				return exitf(2, "FROM: %v", err)
			}
			n, err := strconv.Atoi(args[1])
			if err != nil {
				return exitf(2, "N must be a whole number of working days")
			}
			c, ctx, done, err := connect(cmd, false)
			if err != nil {
				return err
			}
			defer done()
			r, err := c.Calendar.AddWorkingDays(ctx, &exchangev1.AddWorkingDaysRequest{From: timestamppb.New(from), Days: int32(n)})
			if err != nil {
				return callErr(err)
			}
			if global.json {
				return printProto(cmd.OutOrStdout(), r)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s (ends %s)%s\n", r.GetDeadlineDate(), r.GetDeadline().AsTime().In(cst).Format(time.RFC3339), provisionalNote(r.GetProvisional()))
			return nil
		},
	}
	cmd.AddCommand(day, add, calendarCountCmd(), calendarYearsCmd(), calendarPublishCmd(), calendarPublicationsCmd())
	return cmd
}

var cst = time.FixedZone("CST", 8*3600)

func parseWhen(s string) (time.Time, error) {
	if t, err := time.ParseInLocation(time.DateOnly, s, cst); err == nil {
		return t, nil
	}
	return time.Parse(time.RFC3339, s)
}

// provisionalNote marks an answer that counted days of a year not announced yet.
func provisionalNote(p bool) string {
	if p {
		return "  [provisional: the year's calendar is not published yet; statutory holidays only]"
	}
	return ""
}

// calendarYearsCmd: CalendarService.ListCalendarYears.
func calendarYearsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "years",
		Short: "Each calendar year with its source (embedded, published by whom and when, provisional) and version; the early warning",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, ctx, done, err := connect(cmd, false)
			if err != nil {
				return err
			}
			defer done()
			r, err := c.Calendar.ListCalendarYears(ctx, &exchangev1.ListCalendarYearsRequest{})
			if err != nil {
				return callErr(err)
			}
			if global.json {
				return printProto(cmd.OutOrStdout(), r)
			}
			w := cmd.OutOrStdout()
			var tw table
			tw.row("YEAR", "SOURCE", "VERSION", "PUBLISHED BY", "PUBLISHED AT", "NOTICE / RULE")
			for _, y := range r.GetYears() {
				version, at := "-", "-"
				if y.GetVersion() > 0 {
					version = strconv.FormatInt(y.GetVersion(), 10)
				}
				if y.GetPublishedAt() != nil {
					at = y.GetPublishedAt().AsTime().In(cst).Format("2006-01-02 15:04")
				}
				by := y.GetPublishedBy()
				if by == "" {
					by = "-"
				}
				tw.row(strconv.Itoa(int(y.GetYear())), y.GetSource(), version, by, at, y.GetSourceText())
			}
			if err := tw.write(w); err != nil {
				return err
			}
			cv := r.GetCoverage()
			if cv.GetThrough() != "" {
				fmt.Fprintf(w, "\nannounced through %s: %d days left (calendar version %d)\n", cv.GetThrough(), cv.GetDaysLeft(), r.GetVersion())
			} else {
				fmt.Fprintf(w, "\n%d is not announced: answers for it are provisional (calendar version %d)\n", cv.GetNextYear(), r.GetVersion())
			}
			if cv.GetWarning() != "" {
				fmt.Fprintf(w, "WARNING: %s\n", cv.GetWarning())
			}
			for _, p := range r.GetProblems() {
				fmt.Fprintf(w, "PROBLEM: %s\n", p)
			}
			return nil
		},
	}
}

// calendarPublishCmd: CalendarService.PublishCalendar.
func calendarPublishCmd() *cobra.Command {
	var file, reason, operator string
	var replace bool
	cmd := &cobra.Command{
		Use:   "publish --file YEAR.json",
		Short: "Publish announced calendar years (coordinator): the State Council notice in the calendar JSON format",
		Long: `Publish one or more working-day calendar years, as the State Council's notice
(国务院办公厅关于YYYY年部分节假日安排的通知) announces them, in the format of the embedded
calendar (docs/ROLES.md, Coordinator). The hub checks the file, stores it as a new version
with your signed request, audits it, and every replica uses it within seconds. A year that
is already announced is replaced only with --replace and --reason.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if file == "" {
				return exitf(2, "--file is required: the calendar JSON to publish")
			}
			b, err := os.ReadFile(file)
			if err != nil {
				return exitf(2, "--file: %v", err)
			}
			c, ctx, done, err := connect(cmd, true)
			if err != nil {
				return err
			}
			defer done()
			r, err := c.Calendar.PublishCalendar(ctx, &exchangev1.PublishCalendarRequest{File: string(b), Replace: replace, Reason: reason, Operator: operator})
			if err != nil {
				return callErr(err)
			}
			if global.json {
				return printProto(cmd.OutOrStdout(), r)
			}
			p := r.GetPublication()
			ys := make([]string, len(p.GetYears()))
			for i, y := range p.GetYears() {
				ys[i] = strconv.Itoa(int(y))
			}
			fmt.Fprintf(cmd.OutOrStdout(), "published %s as calendar version %d (audit record %d); %d provisional deadline(s) recomputed\n",
				strings.Join(ys, ", "), p.GetVersion(), r.GetAuditReference(), r.GetRecomputedDeadlines())
			return nil
		},
	}
	cmd.Flags().StringVar(&file, "file", "", "calendar JSON file (same format as the embedded cn-workday-calendar.json)")
	cmd.Flags().BoolVar(&replace, "replace", false, "replace years that are already announced (needs --reason)")
	cmd.Flags().StringVar(&reason, "reason", "", "why an announced year is replaced (audited)")
	cmd.Flags().StringVar(&operator, "operator", "", "the person inside the coordinator department (recorded)")
	return cmd
}

// calendarPublicationsCmd: CalendarService.ListCalendarPublications.
func calendarPublicationsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "publications",
		Short: "Every calendar publication with who signed it (--json: the files and signed requests)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, ctx, done, err := connect(cmd, false)
			if err != nil {
				return err
			}
			defer done()
			r, err := c.Calendar.ListCalendarPublications(ctx, &exchangev1.ListCalendarPublicationsRequest{})
			if err != nil {
				return callErr(err)
			}
			if global.json {
				return printProto(cmd.OutOrStdout(), r)
			}
			var tw table
			tw.row("VERSION", "YEARS", "BY", "AT", "REPLACE", "REASON", "SIGNED")
			for _, p := range r.GetPublications() {
				ys := make([]string, len(p.GetYears()))
				for i, y := range p.GetYears() {
					ys[i] = strconv.Itoa(int(y))
				}
				signed := "-"
				if p.GetEvidence() != "" {
					signed = "SM2 (body SM3 " + p.GetBodyDigest() + ")"
				}
				tw.row(strconv.FormatInt(p.GetVersion(), 10), strings.Join(ys, ","), p.GetBy(), p.GetAt().AsTime().In(cst).Format("2006-01-02 15:04"),
					strconv.FormatBool(p.GetReplace()), p.GetReason(), signed)
			}
			return tw.write(cmd.OutOrStdout())
		},
	}
}
