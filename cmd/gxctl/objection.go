package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
)

func init() { root.AddCommand(objectionCmd()) }

func objectionState(s string) (exchangev1.ObjectionState, error) {
	if s == "" {
		return exchangev1.ObjectionState_OBJECTION_STATE_UNSPECIFIED, nil
	}
	v, ok := exchangev1.ObjectionState_value["OBJECTION_STATE_"+strings.ToUpper(s)]
	if !ok {
		return 0, exitf(2, "state must be open, corrected or rejected, got %q", s)
	}
	return exchangev1.ObjectionState(v), nil
}

func printObjections(w io.Writer, os ...*exchangev1.Objection) error {
	var tw table
	tw.row("ID", "RESOURCE", "SUBJECT", "V", "CONSUMER", "PROVIDER", "STATE", "DEADLINE", "TEXT", "RESOLUTION")
	for _, o := range os {
		state := strings.ToLower(strings.TrimPrefix(o.GetState().String(), "OBJECTION_STATE_"))
		if o.GetEscalatedAt() != nil {
			state += " (escalated)"
		}
		if o.GetCorrectedVersion() > 0 {
			state += fmt.Sprintf(" (v%d)", o.GetCorrectedVersion())
		}
		deadline := "-"
		if o.GetDeadline() != nil {
			deadline = o.GetDeadline().AsTime().In(cst).Format("2006-01-02 15:04")
			if o.GetDeadlineProvisional() {
				deadline += " (provisional)"
			}
		}
		tw.row(o.GetId(), o.GetResource(), o.GetSubject(), fmt.Sprint(o.GetRecordVersion()), o.GetConsumer(), o.GetProvider(),
			state, deadline, o.GetText(), o.GetResolution())
	}
	return tw.write(w)
}

func objectionCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "objection", Short: "Objections (异议) to records: raise, list, resolve"}
	var raise exchangev1.RaiseObjectionRequest
	raiseCmd := &cobra.Command{
		Use:   "raise --resource R --subject S --text TEXT",
		Short: "Object to a record you received (routed to its provider)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, ctx, done, err := connect(cmd, true)
			if err != nil {
				return err
			}
			defer done()
			resp, err := c.Objections.RaiseObjection(ctx, &raise)
			if err != nil {
				return callErr(err)
			}
			if global.json {
				return printProto(cmd.OutOrStdout(), resp)
			}
			return printObjections(cmd.OutOrStdout(), resp.GetObjection())
		},
	}
	raiseCmd.Flags().StringVar(&raise.Resource, "resource", "", "resource code")
	raiseCmd.Flags().StringVar(&raise.Subject, "subject", "", "subject key")
	raiseCmd.Flags().Int64Var(&raise.RecordVersion, "version", 0, "record version (default: current)")
	raiseCmd.Flags().StringSliceVar(&raise.Items, "items", nil, "data items concerned")
	raiseCmd.Flags().StringVar(&raise.Text, "text", "", "what is wrong")
	cmd.AddCommand(raiseCmd)

	var as, state, resource string
	listCmd := &cobra.Command{
		Use:   "list",
		Short: "Objections you raised (--as provider: routed to you; --as coordinator: escalated, unanswered past their deadline)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := objectionState(state)
			if err != nil {
				return err
			}
			c, ctx, done, err := connect(cmd, true)
			if err != nil {
				return err
			}
			defer done()
			resp, err := c.Objections.ListObjections(ctx, &exchangev1.ListObjectionsRequest{As: as, State: st, Resource: resource})
			if err != nil {
				return callErr(err)
			}
			if global.json {
				return printProto(cmd.OutOrStdout(), resp)
			}
			return printObjections(cmd.OutOrStdout(), resp.GetObjections()...)
		},
	}
	listCmd.Flags().StringVar(&as, "as", "consumer", "consumer, provider or coordinator")
	listCmd.Flags().StringVar(&state, "state", "", "open, corrected or rejected")
	listCmd.Flags().StringVar(&resource, "resource", "", "resource code")
	cmd.AddCommand(listCmd)

	var resState, resolution string
	resolveCmd := &cobra.Command{
		Use:   "resolve ID --state corrected|rejected --resolution TEXT",
		Short: "Resolve an objection routed to you (provider); corrected needs a record version published after the objection",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := objectionState(resState)
			if err != nil {
				return err
			}
			c, ctx, done, err := connect(cmd, true)
			if err != nil {
				return err
			}
			defer done()
			resp, err := c.Objections.ResolveObjection(ctx, &exchangev1.ResolveObjectionRequest{Id: args[0], State: st, Resolution: resolution})
			if err != nil {
				return callErr(err)
			}
			if global.json {
				return printProto(cmd.OutOrStdout(), resp)
			}
			return printObjections(cmd.OutOrStdout(), resp.GetObjection())
		},
	}
	resolveCmd.Flags().StringVar(&resState, "state", "corrected", "corrected or rejected")
	resolveCmd.Flags().StringVar(&resolution, "resolution", "", "what was done, or why the record stands")
	cmd.AddCommand(resolveCmd)
	return cmd
}
