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

func init() { root.AddCommand(caseCmd()) }

func printCases(w io.Writer, cs ...*exchangev1.Case) error {
	var tw table
	tw.row("NUMBER", "STATE", "MATTER", "DEPARTMENT", "APPLICANT", "PARTIES", "OPENED")
	for _, c := range cs {
		tw.row(c.GetNumber(), c.GetState(), c.GetMatter(), c.GetDepartment(), c.GetApplicant(), strconv.Itoa(len(c.GetParties())),
			c.GetOpenedAt().AsTime().In(cst).Format("2006-01-02 15:04"))
	}
	return tw.write(w)
}

func printCaseDetail(w io.Writer, c *exchangev1.Case) error {
	fmt.Fprintf(w, "case %s  %s\nmatter %s (v%d), handled by %s, region %s\napplicant %s (%s)\n", c.GetNumber(), c.GetState(),
		c.GetMatter(), c.GetMatterVersion(), c.GetDepartment(), c.GetRegion(), c.GetApplicant(), c.GetApplicantKind())
	for _, p := range c.GetParties() {
		rel := p.GetRelation()
		if rel == "" {
			rel = "related party"
		}
		fmt.Fprintf(w, "party %s (%s, %s)\n", p.GetSubject(), p.GetKind(), rel)
	}
	fmt.Fprintln(w)
	var tw table
	tw.row("SEQ", "AT", "STATE", "BY", "COMMENT", "SIGNED")
	for _, e := range c.GetHistory() {
		tw.row(strconv.Itoa(int(e.GetSeq())), e.GetAt().AsTime().In(cst).Format("2006-01-02 15:04"), e.GetState(), e.GetBy(), e.GetComment(),
			"SM2 (body SM3 "+e.GetBodyDigest()+")")
	}
	if err := tw.write(w); err != nil {
		return err
	}
	if len(c.GetMaterials()) == 0 {
		return nil
	}
	fmt.Fprintln(w, "\nmaterials obtained without the applicant (免于提交):")
	var mt table
	mt.row("MATERIAL", "NAME", "SOURCE", "HOW", "DIGEST (SM3)", "OBTAINED")
	for _, m := range c.GetMaterials() {
		how := "pull " + m.GetPullId() + " under " + m.GetRequirement() + fmt.Sprintf(", audit %v", m.GetAuditReferences())
		if m.GetSource() == "ecertificate" {
			how = "e-certificate " + m.GetEcert() + " (" + m.GetVerdict() + ")"
		}
		mt.row(m.GetMaterial(), m.GetName(), m.GetSource(), how, m.GetDigest(), m.GetObtainedAt().AsTime().In(cst).Format("2006-01-02 15:04"))
	}
	return mt.write(w)
}

func caseCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "case", Short: "Cases (办件, 一企一事一码): open, show, list, close, withdraw"}
	output := func(cmd *cobra.Command, c *exchangev1.Case) error {
		if global.json {
			return printProto(cmd.OutOrStdout(), c)
		}
		return printCaseDetail(cmd.OutOrStdout(), c)
	}

	var open exchangev1.OpenCaseRequest
	var parties []string
	openCmd := &cobra.Command{
		Use:   "open --matter CODE --number 办件编码 --applicant ID [--party ID[:relation]]...",
		Short: "Open a case for a registered matter: pulls then name it, for its applicant and declared parties only",
		Example: `  gxctl case open --matter 500000-GJJ-0001 --number GJJ-2026-0001 --applicant 500112198503120019 \
    --party 50011219870706002X:配偶`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if open.Matter == "" || open.Number == "" || open.Applicant == "" {
				return exitf(2, "--matter, --number and --applicant are required")
			}
			req := &exchangev1.OpenCaseRequest{Number: open.Number, Matter: open.Matter, Applicant: open.Applicant, Region: open.Region}
			for _, p := range parties {
				subject, relation, _ := strings.Cut(p, ":")
				req.Parties = append(req.Parties, &exchangev1.Party{Subject: subject, Relation: relation})
			}
			return withClient(cmd, func(c *sdk.Client) error {
				resp, err := call(func(ctx context.Context) (*exchangev1.OpenCaseResponse, error) {
					return c.Cases.OpenCase(ctx, req)
				})
				if err != nil {
					return err
				}
				return output(cmd, resp.GetCase())
			})
		},
	}
	openCmd.Flags().StringVar(&open.Matter, "matter", "", "registered matter code (事项编码)")
	openCmd.Flags().StringVar(&open.Number, "number", "", "case number (办件编码), unique hub-wide")
	openCmd.Flags().StringVar(&open.Applicant, "applicant", "", "applicant's 公民身份号码 or 统一社会信用代码")
	openCmd.Flags().StringArrayVar(&parties, "party", nil, "related party ID[:relation] (repeat; an ID, a 统一社会信用代码 or a certificate number)")
	openCmd.Flags().StringVar(&open.Region, "region", "", "region of the case (default: your department's)")

	show := showCmd("show NUMBER", "Show a case: status history (signed) and the materials obtained for it",
		func(ctx context.Context, c *sdk.Client, number string) (*exchangev1.Case, error) {
			return c.Cases.GetCase(ctx, &exchangev1.GetCaseRequest{Number: number})
		}, printCaseDetail)

	var lreq exchangev1.ListCasesRequest
	list := &cobra.Command{
		Use:   "list",
		Short: "List your cases (coordinators and auditors: every department's, --department to narrow)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withClient(cmd, func(c *sdk.Client) error {
				all, err := allPages(func(ctx context.Context, token string) ([]*exchangev1.Case, string, error) {
					resp, err := c.Cases.ListCases(ctx, &exchangev1.ListCasesRequest{Department: lreq.Department, Matter: lreq.Matter, State: lreq.State, PageToken: token})
					return resp.GetCases(), resp.GetNextPageToken(), err
				})
				if err != nil {
					return err
				}
				if global.json {
					return printProto(cmd.OutOrStdout(), &exchangev1.ListCasesResponse{Cases: all})
				}
				return printCases(cmd.OutOrStdout(), all...)
			})
		},
	}
	list.Flags().StringVar(&lreq.Department, "department", "", "handling department code")
	list.Flags().StringVar(&lreq.Matter, "matter", "", "matter code")
	list.Flags().StringVar(&lreq.State, "state", "", "open, closed or withdrawn")

	end := func(use, short string, withdraw bool) *cobra.Command {
		var comment string
		c := &cobra.Command{
			Use:   use + " NUMBER",
			Short: short,
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return withClient(cmd, func(c *sdk.Client) error {
					cs, err := call(func(ctx context.Context) (*exchangev1.Case, error) {
						if withdraw {
							r, err := c.Cases.WithdrawCase(ctx, &exchangev1.WithdrawCaseRequest{Number: args[0], Comment: comment})
							return r.GetCase(), err
						}
						r, err := c.Cases.CloseCase(ctx, &exchangev1.CloseCaseRequest{Number: args[0], Comment: comment})
						return r.GetCase(), err
					})
					if err != nil {
						return err
					}
					return output(cmd, cs)
				})
			},
		}
		c.Flags().StringVar(&comment, "comment", "", "why (required to withdraw)")
		return c
	}
	cmd.AddCommand(openCmd, show, list,
		end("close", "Close your case (办结): nothing is pulled for it any more", false),
		end("withdraw", "Withdraw your case (the application was withdrawn; --comment says why)", true))
	return cmd
}
