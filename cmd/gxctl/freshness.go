package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"

	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
)

func init() { root.AddCommand(freshnessCmd()) }

func printFreshness(w io.Writer, rs []*exchangev1.ResourceFreshness) error {
	var tw table
	tw.row("RESOURCE", "PROVIDER", "LAST UPDATE", "WORKING AGE", "LIMIT", "STATE", "NOTE")
	for _, r := range rs {
		last := "never"
		if r.GetLastUpdate() != nil {
			last = showTS(r.GetLastUpdate())
		}
		state := "fresh"
		if r.GetStale() {
			state = "STALE"
		}
		note := r.GetStatus()
		if r.GetProvisional() {
			note = strings.TrimSpace("provisional calendar " + note)
		}
		tw.row(r.GetResource(), r.GetProvider(), last, showWorkingAge(r.GetWorkingAge()), fmt.Sprintf("%dd", r.GetLimitWorkingDays()), state, note)
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
	var untilCaughtUp bool
	follow := &cobra.Command{
		Use:   "follow [--until-caught-up]",
		Short: "Follow the freshness alerts of your resources as they happen (provider)",
		Long: `Print one line per freshness alert of your own resources: first every resource stale now,
then each time one becomes stale (past its limit in working days, or not measurable) or
fresh again (published or declared live). The hub measures again at every publish and
heartbeat, and every minute as working time passes. Runs until interrupted; with
--until-caught-up it stops once the resources stale now are shown.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := dial(cmd.Context(), true)
			if err != nil {
				return err
			}
			defer c.Close()
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			w := cmd.OutOrStdout()
			for a, err := range c.FollowAlerts(ctx, &exchangev1.FollowAlertsRequest{UntilCaughtUp: untilCaughtUp}) {
				if err != nil {
					if ctx.Err() != nil {
						return nil // interrupted
					}
					return callErr(err)
				}
				if global.json {
					b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(a)
					if err != nil {
						return err
					}
					fmt.Fprintf(w, "%s\n", b)
					continue
				}
				f := a.GetFreshness()
				last := "never"
				if f.GetLastUpdate() != nil {
					last = showTS(f.GetLastUpdate())
				}
				fmt.Fprintf(w, "%s  %s  %s  last update %s, working age %s, limit %dd %s\n", showTS(a.GetAt()), strings.ToUpper(a.GetState()), f.GetResource(),
					last, showWorkingAge(f.GetWorkingAge()), f.GetLimitWorkingDays(), f.GetStatus())
			}
			return nil
		},
	}
	follow.Flags().BoolVar(&untilCaughtUp, "until-caught-up", false, "stop once the resources stale now are shown")
	cmd.AddCommand(follow)
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
