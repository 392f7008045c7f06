package main

import (
	"fmt"
	"io"
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

// modelColumns reads the field names of each rule type ("p", "g") from the casbin model
// the hub sends, e.g. "p = priority, sub, dom, …".
func modelColumns(model string) map[string][]string {
	out := map[string][]string{}
	for _, line := range strings.Split(model, "\n") {
		k, v, ok := strings.Cut(line, "=")
		k = strings.TrimSpace(k)
		if !ok || (k != "p" && k != "g") {
			continue
		}
		var cols []string
		for _, c := range strings.Split(v, ",") {
			cols = append(cols, strings.TrimSpace(c))
		}
		out[k] = cols
	}
	return out
}

// writePolicy prints the rules as one table per rule type, with the model's column names
// (a "g" rule's columns are positional in casbin: user, role, department).
func writePolicy(w io.Writer, p *exchangev1.Policy) error {
	cols := modelColumns(p.GetModel())
	if g := cols["g"]; len(g) == 3 && g[0] == "_" {
		cols["g"] = []string{"user", "role", "department"}
	}
	fmt.Fprintf(w, "policy version %d, %d rules\n", p.GetVersion(), len(p.GetRules()))
	for _, ptype := range []string{"p", "g"} {
		var tw table
		head := []string{"TYPE"}
		for _, c := range cols[ptype] {
			head = append(head, strings.ToUpper(c))
		}
		tw.row(head...)
		n := 0
		for _, r := range p.GetRules() {
			if r.GetPtype() != ptype {
				continue
			}
			tw.row(append([]string{ptype}, r.GetFields()...)...)
			n++
		}
		if n == 0 {
			continue
		}
		fmt.Fprintln(w)
		if err := tw.write(w); err != nil {
			return err
		}
	}
	return nil
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
			return writePolicy(cmd.OutOrStdout(), p)
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
	_ = change.Flags().MarkDeprecated("operator", "the operator is whoever signs: enrol operators with `gxctl operator add` and act with --identity of the operator's directory")
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
				tw.row(fmt.Sprint(ch.GetVersion()), showTS(ch.GetAt()), ch.GetBy(), ch.GetOperator(),
					fmt.Sprint(len(ch.GetAdd())), fmt.Sprint(len(ch.GetRemove())), ch.GetComment())
			}
			return tw.write(cmd.OutOrStdout())
		},
	}
	history.Flags().Int64Var(&before, "before", 0, "versions older than this")
	cmd.AddCommand(history)
	return cmd
}
