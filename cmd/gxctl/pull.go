package main

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/sdk"
	auditv1 "github.com/gxhub/gxhub/sdk/api/audit/v1"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
)

func init() { root.AddCommand(pullCmd()) }

func pullCmd() *cobra.Command {
	var req exchangev1.PullRequest
	var out string
	cmd := &cobra.Command{
		Use:   "pull --requirement ID --matter CODE --case NUMBER SUBJECT...",
		Short: "Pull records for a case under a granted requirement (the response is verified)",
		Long: `Pull records (A3, A6) of one or more subjects for a matter (事项编码) and case (办件编码).
The hub signs the response; gxctl verifies the signature with the hub key published by the
audit service before printing anything, and shows the audit references of the pull.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if req.RequirementId == "" || req.MatterCode == "" || req.CaseNumber == "" {
				return exitf(2, "--requirement, --matter and --case are required")
			}
			req.Subjects = args
			c, ctx, done, err := connect(cmd, true)
			if err != nil {
				return err
			}
			defer done()
			info, err := c.Audit.GetLogInfo(ctx, &auditv1.GetLogInfoRequest{})
			if err != nil {
				return callErr(err)
			}
			hubKey, err := sm.ParsePublicKeyPEM([]byte(info.GetPublicKeyPem()))
			if err != nil {
				return exitf(1, "the hub's published key does not parse: %v", err)
			}
			resp, err := c.Pulls.Pull(ctx, &req)
			if err != nil {
				return callErr(err)
			}
			res, err := sdk.VerifyPull(resp, hubKey)
			if err != nil {
				return exitf(1, "%v", err)
			}
			if out != "" {
				b, err := protojson.MarshalOptions{Multiline: true, Indent: "  ", UseProtoNames: true}.Marshal(resp)
				if err != nil {
					return err
				}
				if err := os.WriteFile(out, append(b, '\n'), 0o600); err != nil {
					return exitf(2, "write %s: %v", out, err)
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "signed response saved to %s (an auditor checks it offline: gxctl audit check-pull %s --receipt ...)\n", out, out)
			}
			if global.json {
				return printProto(cmd.OutOrStdout(), res)
			}
			w := cmd.OutOrStdout()
			f := res.GetFreshness()
			fmt.Fprintf(w, "pull %s: %s from %s, matter %s, case %s (signature verified; audit %v)\n", res.GetPullId(), res.GetResource(), res.GetProvider(),
				res.GetMatterCode(), res.GetCaseNumber(), resp.GetAuditReferences())
			state := "fresh"
			if f.GetStale() {
				state = "STALE"
			}
			fmt.Fprintf(w, "freshness: %s (working age %s, limit %d working day(s))%s %s\n", state, showWorkingAge(f.GetWorkingAge()), f.GetLimitWorkingDays(), provisionalNote(f.GetProvisional()), f.GetStatus())
			var tw table
			tw.row(append([]string{"SUBJECT", "VERSION", "PUBLISHED"}, res.GetItems()...)...)
			for _, r := range res.GetRecords() {
				row := []string{r.GetSubject(), fmt.Sprint(r.GetVersion()), showTS(r.GetPublishedAt())}
				for _, it := range res.GetItems() {
					row = append(row, r.GetFields()[it])
				}
				tw.row(row...)
			}
			if err := tw.write(w); err != nil {
				return err
			}
			if nf := res.GetNotFound(); len(nf) > 0 {
				sort.Strings(nf)
				fmt.Fprintf(w, "no record: %s\n", strings.Join(nf, ", "))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&req.RequirementId, "requirement", "", "granted requirement id")
	cmd.Flags().StringVar(&req.MatterCode, "matter", "", "matter code (事项编码)")
	cmd.Flags().StringVar(&req.CaseNumber, "case", "", "case number (办件编码)")
	cmd.Flags().StringSliceVar(&req.Items, "items", nil, "data items (default: all approved)")
	cmd.Flags().BoolVar(&req.FreshOnly, "fresh-only", false, "fail rather than return stale data")
	cmd.Flags().StringVar(&req.Operator, "operator", "", "operator inside your department")
	_ = cmd.Flags().MarkDeprecated("operator", "the operator is whoever signs: enrol operators with `gxctl operator add` and act with --identity of the operator's directory")
	cmd.Flags().StringVar(&req.ScopeRegion, "region", "", "region of the case (default: your department's)")
	cmd.Flags().StringVarP(&out, "out", "o", "", "save the signed response (JSON) for offline checks (gxctl audit check-pull)")
	return cmd
}
