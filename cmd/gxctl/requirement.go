package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gxhub/gxhub/sdk"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
)

func init() { root.AddCommand(requirementCmd()) }

func deadline(r *exchangev1.Requirement) string {
	if r.GetDeadline() == nil {
		return "-"
	}
	d := showDeadline(r.GetDeadline())
	if r.GetDeadlineProvisional() {
		d += " (provisional)" // the year's calendar is not published yet
	}
	return d
}

func printRequirements(w io.Writer, rs ...*exchangev1.Requirement) error {
	var tw table
	tw.row("ID", "STATE", "DEADLINE", "CONSUMER", "PROVIDER", "RESOURCE", "ITEMS", "MATTERS")
	for _, r := range rs {
		tw.row(r.GetId(), r.GetState(), deadline(r), r.GetConsumer(), r.GetProvider(), r.GetResource(),
			strings.Join(r.GetItems(), ","), strings.Join(r.GetMatterCodes(), ","))
	}
	return tw.write(w)
}

func printRequirementDetail(w io.Writer, r *exchangev1.Requirement) error {
	fmt.Fprintf(w, "%s  %s  (deadline %s)\nconsumer %s → provider %s, resource %s\nitems %s\nmatters %s\nlegal duty %s\nscope %s; %s, %s\n\n",
		r.GetId(), r.GetState(), deadline(r), r.GetConsumer(), r.GetProvider(), r.GetResource(),
		strings.Join(r.GetItems(), ", "), strings.Join(r.GetMatterCodes(), ", "), r.GetLegalDuty(), r.GetScopeRegion(),
		r.GetUpdateCycle(), r.GetProvisionMethod())
	if r.GetVerifyOnly() {
		fmt.Fprintln(w, "verify-only (核验): no value is returned under it, only match / mismatch / no_record (gxctl verify-data)")
	}
	for _, c := range r.GetClearText() {
		basis := ""
		if c.GetLegalBasis() != nil {
			basis = " under " + c.GetLegalBasis().GetCitation()
		}
		fmt.Fprintf(w, "clear text (not masked): %s%s\n", c.GetItem(), basis)
	}
	if r.GetVerifyOnly() || len(r.GetClearText()) > 0 {
		fmt.Fprintln(w)
	}
	var tw table
	tw.row("SEQ", "AT", "ACTION", "BY", "LEGAL BASIS", "COMMENT", "SIGNED")
	for _, d := range r.GetDecisions() {
		signed := "-"
		if d.GetEvidence() != "" {
			signed = "SM2 (body SM3 " + d.GetBodyDigest() + ")"
		}
		tw.row(strconv.Itoa(int(d.GetSeq())), showTS(d.GetAt()), d.GetAction(), d.GetBy(),
			d.GetLegalBasis().GetCitation(), d.GetComment(), signed)
	}
	return tw.write(w)
}

func requirementCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "requirement", Aliases: []string{"req"}, Short: "Requirements (需求清单): file, review, answer, escalate, order, revoke"}

	output := func(cmd *cobra.Command, r *exchangev1.Requirement) error {
		if global.json {
			return printProto(cmd.OutOrStdout(), r)
		}
		return printRequirementDetail(cmd.OutOrStdout(), r)
	}

	var fileFlag string
	var clear []string
	var freq exchangev1.FileRequirementRequest
	file := &cobra.Command{
		Use:   "file",
		Short: "File a requirement as your department (the consumer)",
		Example: `  gxctl requirement file --resource 500000-GA-0001 --item name --item household_address \
    --matter 500000-GJJ-0001 --duty "《住房公积金管理条例》第二十四条"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req := &exchangev1.FileRequirementRequest{}
			if fileFlag != "" {
				if err := readProtoFile(cmd, fileFlag, req); err != nil {
					return err
				}
			}
			fl := cmd.Flags()
			if fl.Changed("resource") {
				req.Resource = freq.Resource
			}
			if fl.Changed("provider") {
				req.Provider = freq.Provider
			}
			if fl.Changed("item") {
				req.Items = freq.Items
			}
			if fl.Changed("matter") {
				req.MatterCodes = freq.MatterCodes
			}
			if fl.Changed("duty") {
				req.LegalDuty = freq.LegalDuty
			}
			if fl.Changed("region") {
				req.ScopeRegion = freq.ScopeRegion
			}
			if fl.Changed("update-cycle") {
				req.UpdateCycle = freq.UpdateCycle
			}
			if fl.Changed("provision") {
				req.ProvisionMethod = freq.ProvisionMethod
			}
			if fl.Changed("verify-only") {
				req.VerifyOnly = freq.VerifyOnly
			}
			if fl.Changed("clear") {
				req.ClearText = nil
				for _, c := range clear {
					item, basis, _ := strings.Cut(c, "=")
					ct := &exchangev1.ClearText{Item: item}
					if basis != "" {
						ct.LegalBasis = shortBasis(basis)
					}
					req.ClearText = append(req.ClearText, ct)
				}
			}
			return withClient(cmd, func(c *sdk.Client) error {
				resp, err := call(func(ctx context.Context) (*exchangev1.FileRequirementResponse, error) {
					return c.Requirements.FileRequirement(ctx, req)
				})
				if err != nil {
					return err
				}
				return output(cmd, resp.GetRequirement())
			})
		},
	}
	file.Flags().StringVar(&fileFlag, "file", "", "the request as JSON (gxhub.exchange.v1.FileRequirementRequest; '-' for stdin)")
	file.Flags().StringVar(&freq.Resource, "resource", "", "resource code")
	file.Flags().StringVar(&freq.Provider, "provider", "", "provider code (optional, checked)")
	file.Flags().StringArrayVar(&freq.Items, "item", nil, "data item (repeat)")
	file.Flags().StringArrayVar(&freq.MatterCodes, "matter", nil, "matter code 事项编码 (repeat)")
	file.Flags().StringVar(&freq.LegalDuty, "duty", "", "legal duty that needs the data")
	file.Flags().StringVar(&freq.ScopeRegion, "region", "", "scope region (default: the resource's)")
	file.Flags().StringVar(&freq.UpdateCycle, "update-cycle", "", "update cycle needed: realtime, daily, weekly, monthly (default: the resource's)")
	file.Flags().StringVar(&freq.ProvisionMethod, "provision", "", "pull_api, subscription or batch_file (default: the resource's)")
	file.Flags().BoolVar(&freq.VerifyOnly, "verify-only", false, "a verification requirement (核验): no value is ever returned, only whether declared values match (gxctl verify-data)")
	file.Flags().StringArrayVar(&clear, "clear", nil, "ITEM[=KIND:TITLE:ARTICLE[:文号]]: receive ITEM in clear text instead of masked (脱敏); a sensitive_personal item needs the legal basis, e.g. --clear id_number=法律:中华人民共和国居民身份证法:第十三条 (repeat)")

	listing := func(use, short string, fixedState string) *cobra.Command {
		var lreq exchangev1.ListRequirementsRequest
		c := &cobra.Command{
			Use:   use,
			Short: short,
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				req := &exchangev1.ListRequirementsRequest{Consumer: lreq.Consumer, Provider: lreq.Provider, Resource: lreq.Resource, State: lreq.State}
				if fixedState != "" {
					req.State = fixedState
				}
				return withClient(cmd, func(c *sdk.Client) error {
					all, err := allPages(func(ctx context.Context, token string) ([]*exchangev1.Requirement, string, error) {
						req.PageToken = token
						resp, err := c.Requirements.ListRequirements(ctx, req)
						return resp.GetRequirements(), resp.GetNextPageToken(), err
					})
					if err != nil {
						return err
					}
					if global.json {
						return printProto(cmd.OutOrStdout(), &exchangev1.ListRequirementsResponse{Requirements: all})
					}
					return printRequirements(cmd.OutOrStdout(), all...)
				})
			},
		}
		c.Flags().StringVar(&lreq.Consumer, "consumer", "", "consumer department code")
		c.Flags().StringVar(&lreq.Provider, "provider", "", "provider department code")
		c.Flags().StringVar(&lreq.Resource, "resource", "", "resource code")
		if fixedState == "" {
			c.Flags().StringVar(&lreq.State, "state", "", "under_review, returned, awaiting_provider, escalated, granted, refused, revoked or withdrawn")
		}
		return c
	}
	list := listing("list", "List requirements you filed (or, with --provider YOU, those you provide; coordinators see all)", "")
	escalations := listing("escalations", "List escalated requirements (the coordinator's queue)", "escalated")

	get := &cobra.Command{
		Use:   "get ID",
		Short: "Show a requirement with its signed decisions",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withClient(cmd, func(c *sdk.Client) error {
				r, err := call(func(ctx context.Context) (*exchangev1.Requirement, error) {
					return c.Requirements.GetRequirement(ctx, &exchangev1.GetRequirementRequest{Id: args[0]})
				})
				if err != nil {
					return err
				}
				return output(cmd, r)
			})
		},
	}

	// decision builds a subcommand that sends one decision; choose picks the action from
	// the mutually exclusive flags.
	decision := func(use, short string, opts map[string]string, needsChoice bool) *cobra.Command {
		var basis basisFlags
		var comment string
		chosen := map[string]*bool{}
		var dreq exchangev1.DecideRequirementRequest
		c := &cobra.Command{
			Use:   use + " ID",
			Short: short,
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				action := ""
				var names []string
				for flag, act := range opts {
					names = append(names, "--"+flag)
					if chosen[flag] != nil && *chosen[flag] {
						if action != "" {
							return exitf(2, "choose one of %s", strings.Join(names, ", "))
						}
						action = act
					}
				}
				if !needsChoice {
					for _, act := range opts {
						action = act
					}
				}
				if action == "" {
					return exitf(2, "choose one of %s", strings.Join(names, ", "))
				}
				req := &exchangev1.DecideRequirementRequest{Id: args[0], Action: action, LegalBasis: basis.build(cmd), Comment: comment,
					Items: dreq.Items, MatterCodes: dreq.MatterCodes, LegalDuty: dreq.LegalDuty, ScopeRegion: dreq.ScopeRegion}
				return withClient(cmd, func(c *sdk.Client) error {
					resp, err := call(func(ctx context.Context) (*exchangev1.DecideRequirementResponse, error) {
						return c.Requirements.DecideRequirement(ctx, req)
					})
					if err != nil {
						return err
					}
					return output(cmd, resp.GetRequirement())
				})
			},
		}
		if needsChoice {
			for flag, act := range opts {
				chosen[flag] = c.Flags().Bool(flag, false, act)
			}
		}
		basis.add(c, "legal basis (required to refuse or confirm a refusal)")
		c.Flags().StringVar(&comment, "comment", "", "comment (required to return an incomplete requirement)")
		if use == "resubmit" {
			c.Flags().StringArrayVar(&dreq.Items, "item", nil, "amended data items (repeat)")
			c.Flags().StringArrayVar(&dreq.MatterCodes, "matter", nil, "amended matter codes (repeat)")
			c.Flags().StringVar(&dreq.LegalDuty, "duty", "", "amended legal duty")
			c.Flags().StringVar(&dreq.ScopeRegion, "region", "", "amended scope region")
		}
		return c
	}
	review := decision("review", "Coordinator: accept a requirement as complete, or return it for amendment",
		map[string]string{"accept": "accept_complete", "return": "return_incomplete"}, true)
	answer := decision("answer", "Provider: grant, or refuse citing the legal basis (--legal-basis KIND:TITLE:ARTICLE)",
		map[string]string{"grant": "grant", "refuse": "refuse"}, true)
	order := decision("order", "Coordinator, after escalation: order sharing, or confirm the refusal with --legal-basis",
		map[string]string{"share": "order_share", "confirm-refusal": "confirm_refusal"}, true)
	revoke := decision("revoke", "Consumer or coordinator: revoke a granted requirement (pulls stop at once)",
		map[string]string{"revoke": "revoke"}, false)
	withdraw := decision("withdraw", "Consumer: withdraw a pending requirement", map[string]string{"withdraw": "withdraw"}, false)
	resubmit := decision("resubmit", "Consumer: resubmit a returned requirement, optionally amended", map[string]string{"submit": "submit"}, false)

	cmd.AddCommand(file, list, get, review, answer, escalations, order, revoke, withdraw, resubmit)
	return cmd
}
