package main

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/gxhub/gxhub/sdk"
	auditv1 "github.com/gxhub/gxhub/sdk/api/audit/v1"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
)

func init() { root.AddCommand(pullCmd()) }

func pullCmd() *cobra.Command {
	var req exchangev1.PullRequest
	var out, batch string
	cmd := &cobra.Command{
		Use:   "pull --requirement ID --matter CODE --case NUMBER SUBJECT... | pull --batch FILE",
		Short: "Pull records for a case under a granted requirement (the response is verified)",
		Long: `Pull records (A3, A6) of one or more subjects for a matter (事项编码) and case (办件编码).
The hub signs the response; gxctl verifies the signature with the hub key published by the
audit service before printing anything, and shows the audit references of the pull.

With --batch FILE, one signed request pulls up to 1000 subjects, each for its own case: FILE
has one entry per line, "REQUIREMENT,MATTER,CASE,SUBJECT" (blank lines and lines starting
with # are skipped). Each entry is decided as a single pull of its subject would be; refused
entries are listed with their reason (and audited), the others with their record.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if batch != "" {
				if len(args) > 0 || req.RequirementId != "" || req.MatterCode != "" || req.CaseNumber != "" {
					return exitf(2, "--batch names requirement, matter, case and subject per line of the file: give no --requirement, --matter, --case or subjects with it")
				}
				return pullBatch(cmd, batch, req.Items, req.FreshOnly, out)
			}
			if len(args) == 0 {
				return exitf(2, "name at least one subject (or --batch FILE)")
			}
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
			hubKey, err := sdk.PullKey(info, "", time.Now())
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
			if m := res.GetMaskedItems(); len(m) > 0 {
				fmt.Fprintf(w, "masked (脱敏; the requirement does not approve clear text): %s\n", strings.Join(m, ", "))
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
	cmd.Flags().StringVar(&batch, "batch", "", "pull many subjects in one request: a file of REQUIREMENT,MATTER,CASE,SUBJECT lines (at most 1000)")
	cmd.Flags().StringVarP(&out, "out", "o", "", "save the signed response (JSON) for offline checks (gxctl audit check-pull)")
	return cmd
}

// pullBatch pulls the entries of file in one signed request and prints each outcome.
func pullBatch(cmd *cobra.Command, file string, items []string, freshOnly bool, out string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return exitf(2, "--batch: %v", err)
	}
	req := &exchangev1.PullBatchRequest{Items: items, FreshOnly: freshOnly}
	for n, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, ",")
		if len(f) != 4 {
			return exitf(2, "--batch %s line %d: want REQUIREMENT,MATTER,CASE,SUBJECT, got %q", file, n+1, line)
		}
		req.Entries = append(req.Entries, &exchangev1.PullBatchEntry{RequirementId: strings.TrimSpace(f[0]), MatterCode: strings.TrimSpace(f[1]),
			CaseNumber: strings.TrimSpace(f[2]), Subject: strings.TrimSpace(f[3])})
	}
	if len(req.Entries) == 0 || len(req.Entries) > 1000 {
		return exitf(2, "--batch %s: %d entries; a batch pull has 1 to 1000", file, len(req.Entries))
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
	hubKey, err := sdk.PullKey(info, "", time.Now())
	if err != nil {
		return exitf(1, "the hub's published key does not parse: %v", err)
	}
	resp, err := c.PullBatch.PullBatch(ctx, req)
	if err != nil {
		return callErr(err)
	}
	res, err := sdk.VerifyPullBatch(req, resp, hubKey)
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
		fmt.Fprintf(cmd.ErrOrStderr(), "signed response saved to %s\n", out)
	}
	if global.json {
		return printProto(cmd.OutOrStdout(), res)
	}
	w := cmd.OutOrStdout()
	granted := 0
	for _, o := range res.GetEntries() {
		if o.GetGranted() {
			granted++
		}
	}
	fmt.Fprintf(w, "batch pull %s: %d entries, %d granted, %d refused (signature verified)\n", res.GetBatchId(), len(res.GetEntries()), granted, len(res.GetEntries())-granted)
	var tw table
	tw.row("#", "SUBJECT", "CASE", "OUTCOME", "AUDIT", "DATA")
	for i, o := range res.GetEntries() {
		e := o.GetEntry()
		data := o.GetMessage()
		outcome := o.GetReason()
		if o.GetGranted() {
			outcome = "granted"
			r := o.GetResult()
			if len(r.GetRecords()) == 0 {
				data = "no record"
			} else {
				var parts []string
				for _, it := range r.GetItems() {
					parts = append(parts, it+"="+r.GetRecords()[0].GetFields()[it])
				}
				data = fmt.Sprintf("v%d %s", r.GetRecords()[0].GetVersion(), strings.Join(parts, " "))
			}
		}
		tw.row(fmt.Sprint(i+1), e.GetSubject(), e.GetCaseNumber(), outcome, fmt.Sprint(resp.GetAuditReferences()[i]), data)
	}
	return tw.write(w)
}
