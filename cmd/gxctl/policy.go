package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
)

func init() { root.AddCommand(policyCmd()) }

// parseRule parses "p, 5, *, …" or "g, alice, operator, 11500000…".
func parseRule(s string) (*exchangev1.PolicyRule, error) {
	parts := strings.Split(s, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	if len(parts) < 2 || (parts[0] != "p" && parts[0] != "g") {
		return nil, exitf(2, "rule %q must start with p or g, fields separated by commas", s)
	}
	return &exchangev1.PolicyRule{Ptype: parts[0], Fields: parts[1:]}, nil
}

func ruleString(r *exchangev1.PolicyRule) string {
	return r.GetPtype() + ", " + strings.Join(r.GetFields(), ", ")
}

func policyCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "policy", Short: "The pull policy: rules, changes, history"}
	cmd.AddCommand(&cobra.Command{
		Use:   "show",
		Short: "Show the current rules and version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, ctx, done, err := connect(cmd, true)
			if err != nil {
				return err
			}
			defer done()
			p, err := c.Policy.GetPolicy(ctx, &exchangev1.GetPolicyRequest{})
			if err != nil {
				return callErr(err)
			}
			if global.json {
				return printProto(cmd.OutOrStdout(), p)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "# policy version %d\n", p.GetVersion())
			for _, r := range p.GetRules() {
				fmt.Fprintln(cmd.OutOrStdout(), ruleString(r))
			}
			return nil
		},
	})
	var expect int64
	var comment, operator string
	var add, remove []string
	change := &cobra.Command{
		Use:   "change --expect VERSION [--add RULE]... [--remove RULE]...",
		Short: "Add and remove rules as one new, audited version",
		Long: `Rules are comma-separated, e.g. --add "g, clerk-9, operator, <your code>" (operator roles
inside your department) or, for the coordinator, --add "p, 5, *, <dept>, <resource>, pull,
*, *, *, *, *, *, *, deny, SUSPENDED". --expect is the version you read with "policy show".`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req := &exchangev1.ChangePolicyRequest{ExpectVersion: expect, Comment: comment, Operator: operator}
			for _, s := range add {
				r, err := parseRule(s)
				if err != nil {
					return err
				}
				req.Add = append(req.Add, r)
			}
			for _, s := range remove {
				r, err := parseRule(s)
				if err != nil {
					return err
				}
				req.Remove = append(req.Remove, r)
			}
			c, ctx, done, err := connect(cmd, true)
			if err != nil {
				return err
			}
			defer done()
			ch, err := c.Policy.ChangePolicy(ctx, req)
			if err != nil {
				return callErr(err)
			}
			if global.json {
				return printProto(cmd.OutOrStdout(), ch)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "policy version %d (audit #%d)\n", ch.GetVersion(), ch.GetAuditReference())
			return nil
		},
	}
	change.Flags().Int64Var(&expect, "expect", 0, "the version the change is made against")
	change.Flags().StringArrayVar(&add, "add", nil, "rule to add (repeatable)")
	change.Flags().StringArrayVar(&remove, "remove", nil, "rule to remove (repeatable)")
	change.Flags().StringVar(&comment, "comment", "", "why")
	change.Flags().StringVar(&operator, "operator", "", "operator making the change")
	cmd.AddCommand(change)
	var before int64
	history := &cobra.Command{
		Use:   "history",
		Short: "Policy versions, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, ctx, done, err := connect(cmd, true)
			if err != nil {
				return err
			}
			defer done()
			h, err := c.Policy.ListPolicyChanges(ctx, &exchangev1.ListPolicyChangesRequest{BeforeVersion: before})
			if err != nil {
				return callErr(err)
			}
			if global.json {
				return printProto(cmd.OutOrStdout(), h)
			}
			var tw table
			tw.row("VERSION", "AT", "BY", "OPERATOR", "+", "-", "COMMENT")
			for _, ch := range h.GetChanges() {
				tw.row(fmt.Sprint(ch.GetVersion()), ch.GetAt().AsTime().Format("2006-01-02 15:04Z"), ch.GetBy(), ch.GetOperator(),
					fmt.Sprint(len(ch.GetAdd())), fmt.Sprint(len(ch.GetRemove())), ch.GetComment())
			}
			return tw.write(cmd.OutOrStdout())
		},
	}
	history.Flags().Int64Var(&before, "before", 0, "versions older than this")
	cmd.AddCommand(history)
	return cmd
}
