package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gxhub/gxhub/sdk"
	auditv1 "github.com/gxhub/gxhub/sdk/api/audit/v1"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
)

func init() { root.AddCommand(verifyDataCmd()) }

func verifyDataCmd() *cobra.Command {
	var req exchangev1.VerifyDataRequest
	cmd := &cobra.Command{
		Use:   "verify-data --requirement ID --matter CODE --case NUMBER SUBJECT ITEM=VALUE...",
		Short: "Verify an applicant's declared values against the register (核验): match, mismatch or no record per item, never a value",
		Long: `Verify (核验, seed 003 task 6) the values an applicant declared for a case: the hub compares
each with the provider's register and answers match, mismatch or no_record per item — never
the value. Both sides are compared after normalisation: full-width letters, digits and signs
as half-width, every space removed, letters in upper case (渝Ｂ１２３４５, "渝 b12345" and
渝B12345 are the same). Made under a granted requirement (verify-only or pull) for an open
case of your department; the answer is signed by the hub (verified here before printing) and
audited like a pull.`,
		Example: `  gxctl verify-data --requirement REQ-20260302-0001 --matter 500112-YB-0001 --case YB-1 \
    91500000MA5U7XY123 name=重庆某某科技有限公司 legal_representative=张三`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if req.RequirementId == "" || req.MatterCode == "" || req.CaseNumber == "" {
				return exitf(2, "--requirement, --matter and --case are required")
			}
			req.Subject, req.Claims = args[0], map[string]string{}
			for _, a := range args[1:] {
				item, value, ok := strings.Cut(a, "=")
				if !ok || strings.TrimSpace(item) == "" {
					return exitf(2, "claim %q must be ITEM=VALUE, e.g. name=张三", a)
				}
				if _, dup := req.Claims[item]; dup {
					return exitf(2, "item %s is claimed twice", item)
				}
				req.Claims[item] = value
			}
			c, ctx, done, err := connect(cmd, true)
			if err != nil {
				return err
			}
			defer done()
			info, err := c.Audit.GetLogInfo(ctx, &auditv1.GetLogInfoRequest{})
			if err != nil {
				return callErr(err)
			}
			hubKey, err := sdk.PullKey(info, "", time.Now()) // verifications are signed like pulls, by the response key
			if err != nil {
				return exitf(1, "the hub's published key does not parse: %v", err)
			}
			resp, err := c.Pulls.VerifyData(ctx, &req)
			if err != nil {
				return callErr(err)
			}
			res, err := sdk.VerifyData(resp, hubKey)
			if err != nil {
				return exitf(1, "%v", err)
			}
			if global.json {
				return printProto(cmd.OutOrStdout(), res)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "verification %s: %s of %s in %s from %s, matter %s, case %s (signature verified; audit %v)\n", res.GetVerificationId(),
				res.GetSubject(), res.GetResource(), showTS(res.GetAsOf()), res.GetProvider(), res.GetMatterCode(), res.GetCaseNumber(), resp.GetAuditReferences())
			var tw table
			tw.row("ITEM", "OUTCOME")
			for _, v := range res.GetResults() {
				tw.row(v.GetItem(), v.GetOutcome())
			}
			return tw.write(w)
		},
	}
	cmd.Flags().StringVar(&req.RequirementId, "requirement", "", "granted requirement id (verify-only or pull)")
	cmd.Flags().StringVar(&req.MatterCode, "matter", "", "matter code (事项编码)")
	cmd.Flags().StringVar(&req.CaseNumber, "case", "", "case number (办件编码)")
	cmd.Flags().StringVar(&req.Operator, "operator", "", "operator inside your department")
	return cmd
}
