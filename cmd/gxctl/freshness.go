package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
)

func init() { root.AddCommand(freshnessCmd()) }

func printFreshness(w io.Writer, rs []*exchangev1.ResourceFreshness) error {
	var tw table
	tw.row("RESOURCE", "PROVIDER", "LAST UPDATE", "WORKING AGE", "LIMIT", "STATE", "NOTE")
	for _, r := range rs {
		last := "never"
		if r.GetLastUpdate() != nil {
			last = r.GetLastUpdate().AsTime().Format("2006-01-02 15:04Z")
		}
		state := "fresh"
		if r.GetStale() {
			state = "STALE"
		}
		note := r.GetStatus()
		if r.GetProvisional() {
			note = strings.TrimSpace("provisional calendar " + note)
		}
		tw.row(r.GetResource(), r.GetProvider(), last, r.GetWorkingAge().AsDuration().String(), fmt.Sprintf("%dd", r.GetLimitWorkingDays()), state, note)
	}
	return tw.write(w)
}

func freshnessCmd() *cobra.Command {
	var staleOnly, alerts bool
	cmd := &cobra.Command{
		Use:   "freshness",
		Short: "Freshness of every resource in working time (--alerts: your stale resources)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, ctx, done, err := connect(cmd, true)
			if err != nil {
				return err
			}
			defer done()
			var rs []*exchangev1.ResourceFreshness
			if alerts {
				resp, err := c.Freshness.ListFreshnessAlerts(ctx, &exchangev1.ListFreshnessAlertsRequest{})
				if err != nil {
					return callErr(err)
				}
				if global.json {
					return printProto(cmd.OutOrStdout(), resp)
				}
				rs = resp.GetResources()
			} else {
				resp, err := c.Freshness.ListFreshness(ctx, &exchangev1.ListFreshnessRequest{StaleOnly: staleOnly})
				if err != nil {
					return callErr(err)
				}
				if global.json {
					return printProto(cmd.OutOrStdout(), resp)
				}
				rs = resp.GetResources()
			}
			return printFreshness(cmd.OutOrStdout(), rs)
		},
	}
	cmd.Flags().BoolVar(&staleOnly, "stale", false, "only stale resources")
	cmd.Flags().BoolVar(&alerts, "alerts", false, "only your own stale resources (provider alerts)")
	cmd.AddCommand(&cobra.Command{
		Use:   "heartbeat RESOURCE",
		Short: "Declare a real-time resource live (provider)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ctx, done, err := connect(cmd, true)
			if err != nil {
				return err
			}
			defer done()
			r, err := c.Freshness.Heartbeat(ctx, &exchangev1.HeartbeatRequest{Resource: args[0]})
			if err != nil {
				return callErr(err)
			}
			return printFreshness(cmd.OutOrStdout(), []*exchangev1.ResourceFreshness{r})
		},
	})
	return cmd
}
