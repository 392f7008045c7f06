package main

import (
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/timestamppb"

	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
)

func init() { root.AddCommand(calendarCmd()) }

func calendarCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "calendar", Short: "Official working-day calendar (public: no identity needed, only --hub)"}
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
			fmt.Fprintf(cmd.OutOrStdout(), "%s  %s\n", d.GetDate(), kind)
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
			fmt.Fprintf(cmd.OutOrStdout(), "%s (ends %s)\n", r.GetDeadlineDate(), r.GetDeadline().AsTime().In(cst).Format(time.RFC3339))
			return nil
		},
	}
	cmd.AddCommand(day, add, calendarCountCmd())
	return cmd
}

var cst = time.FixedZone("CST", 8*3600)

func parseWhen(s string) (time.Time, error) {
	if t, err := time.ParseInLocation(time.DateOnly, s, cst); err == nil {
		return t, nil
	}
	return time.Parse(time.RFC3339, s)
}
