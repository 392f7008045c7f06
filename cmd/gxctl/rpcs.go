package main

import (
	"encoding/hex"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gxhub/gxhub/sdk"
	adminv1 "github.com/gxhub/gxhub/sdk/api/admin/v1"
	auditv1 "github.com/gxhub/gxhub/sdk/api/audit/v1"
	certsv1 "github.com/gxhub/gxhub/sdk/api/certs/v1"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
)

// This file holds the commands of RPCs that had none: every RPC in sdk/api has a gxctl
// command (TestEveryRPCHasACommand).

func init() { root.AddCommand(recordCmd(), trustCmd()) }

// recordCmd: RecordService.GetRecordHistory.
func recordCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "record", Short: "Published records: every version of one subject's record"}
	cmd.AddCommand(&cobra.Command{
		Use:   "history RESOURCE SUBJECT",
		Short: "Every published version of a subject's record, oldest first (the resource's provider)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withClient(cmd, func(c *sdk.Client) error {
				ctx, cancel := callContext()
				defer cancel()
				resp, err := c.Records.GetRecordHistory(ctx, &exchangev1.GetRecordHistoryRequest{Resource: args[0], Subject: args[1]})
				if err != nil {
					return callErr(err)
				}
				if global.json {
					return printProto(cmd.OutOrStdout(), resp)
				}
				var tw table
				tw.row("VERSION", "PUBLISHED", "BY", "BATCH", "DELETED", "FIELDS")
				for _, r := range resp.GetVersions() {
					tw.row(strconv.FormatInt(r.GetVersion(), 10), r.GetPublishedAt().AsTime().In(cst).Format(time.RFC3339), r.GetPublishedBy(),
						r.GetBatchId(), strconv.FormatBool(r.GetDeleted()), fieldsText(r.GetFields()))
				}
				return tw.write(cmd.OutOrStdout())
			})
		},
	})
	return cmd
}

func fieldsText(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, " ")
}

// trustCmd: TrustService.GetTrustBundle (public).
func trustCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "trust",
		Short: "The hub's trust bundle: SM2 root and issuing CAs, TLS CA (public: no identity needed)",
		Long: `Print (or save with --out) the hub's SM2 root and issuing CA certificates and its TLS CA, as
PEM. Use the SM2 root as --trust for offline verification of licences and department
signatures; compare it with a copy obtained out of band before trusting it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, ctx, done, err := connect(cmd, false)
			if err != nil {
				return err
			}
			defer done()
			b, err := c.Trust.GetTrustBundle(ctx, &certsv1.GetTrustBundleRequest{})
			if err != nil {
				return callErr(err)
			}
			if global.json {
				return printProto(cmd.OutOrStdout(), b)
			}
			pem := b.GetRootCaPem() + strings.Join(b.GetIssuingCaPem(), "")
			if out != "" {
				if err := os.WriteFile(out, []byte(pem), 0o644); err != nil {
					return exitf(2, "%v", err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "SM2 root and %d issuing CA certificate(s) written to %s\n", len(b.GetIssuingCaPem()), out)
				return nil
			}
			fmt.Fprint(cmd.OutOrStdout(), "# SM2 root CA\n"+b.GetRootCaPem())
			for _, p := range b.GetIssuingCaPem() {
				fmt.Fprint(cmd.OutOrStdout(), "# SM2 issuing CA\n"+p)
			}
			if b.GetTlsCaPem() != "" {
				fmt.Fprint(cmd.OutOrStdout(), "# TLS CA (ECDSA P-256)\n"+b.GetTlsCaPem())
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "out", "o", "", "write the SM2 root and issuing CAs (PEM) to this file")
	return cmd
}

// calendarCountCmd: CalendarService.CountWorkingDays.
func calendarCountCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "count FROM TO",
		Short: "Working days and working time between two instants (YYYY-MM-DD or RFC 3339)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			from, err := parseWhen(args[0])
			if err != nil {
				return exitf(2, "FROM: %v", err)
			}
			to, err := parseWhen(args[1])
			if err != nil {
				return exitf(2, "TO: %v", err)
			}
			c, ctx, done, err := connect(cmd, false)
			if err != nil {
				return err
			}
			defer done()
			r, err := c.Calendar.CountWorkingDays(ctx, &exchangev1.CountWorkingDaysRequest{From: timestamppb.New(from), To: timestamppb.New(to)})
			if err != nil {
				return callErr(err)
			}
			if global.json {
				return printProto(cmd.OutOrStdout(), r)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d working days (working time %s)%s\n", r.GetWorkingDays(), r.GetWorkingTime().AsDuration(), provisionalNote(r.GetProvisional()))
			return nil
		},
	}
}

// matterListCmd: MatterService.ListMatters.
func matterListCmd() *cobra.Command {
	var req exchangev1.ListMattersRequest
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List matters (--department: one department's)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withClient(cmd, func(c *sdk.Client) error {
				var all []*exchangev1.Matter
				for {
					ctx, cancel := callContext()
					resp, err := c.Matters.ListMatters(ctx, &req)
					cancel()
					if err != nil {
						return callErr(err)
					}
					all = append(all, resp.GetMatters()...)
					if req.PageToken = resp.GetNextPageToken(); req.PageToken == "" {
						break
					}
				}
				if global.json {
					return printProto(cmd.OutOrStdout(), &exchangev1.ListMattersResponse{Matters: all})
				}
				var tw table
				tw.row("CODE", "VERSION", "NAME", "DEPARTMENT", "MATERIALS")
				for _, m := range all {
					tw.row(m.GetCode(), strconv.Itoa(int(m.GetVersion())), m.GetName(), m.GetDepartment(), strconv.Itoa(len(m.GetMaterials())))
				}
				return tw.write(cmd.OutOrStdout())
			})
		},
	}
	cmd.Flags().StringVar(&req.Department, "department", "", "only this department's matters (统一社会信用代码)")
	return cmd
}

// ecertRegisterTypeCmd: ECertService.RegisterCertType.
func ecertRegisterTypeCmd() *cobra.Command {
	var t certsv1.CertType
	var items []string
	cmd := &cobra.Command{
		Use:   "register-type",
		Short: "Register a licence type your department defines (issuer; the code starts with your 统一社会信用代码)",
		Example: `  gxctl --identity DIR ecert register-type --code 115000000000000275002 --name 食品经营许可证 \
    --holder-type 001 --item licence_number:许可证编号:required --item scope:经营项目`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if t.Code == "" || t.Name == "" || t.HolderType == "" || len(items) == 0 {
				return exitf(2, "--code, --name, --holder-type and at least one --item are required")
			}
			for _, s := range items {
				parts := strings.Split(s, ":")
				if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" || (len(parts) == 3 && parts[2] != "required") {
					return exitf(2, "--item %q must be key:name or key:name:required", s)
				}
				t.Items = append(t.Items, &certsv1.CertItem{Key: parts[0], Name: parts[1], Required: len(parts) == 3})
			}
			return withClient(cmd, func(c *sdk.Client) error {
				ctx, cancel := callContext()
				defer cancel()
				if t.DefinerName == "" {
					me, err := c.Admin.WhoAmI(ctx, &adminv1.WhoAmIRequest{})
					if err != nil {
						return callErr(err)
					}
					t.DefinerName = me.GetDepartment().GetName()
				}
				got, err := c.ECert.RegisterCertType(ctx, &certsv1.RegisterCertTypeRequest{Type: &t})
				if err != nil {
					return callErr(err)
				}
				if global.json {
					return printProto(cmd.OutOrStdout(), got)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "licence type %s %s registered (defined by %s)\n", got.GetCode(), got.GetName(), got.GetDefinerName())
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&t.Code, "code", "", "type code: your 统一社会信用代码 + a suffix")
	f.StringVar(&t.Name, "name", "", "licence name (e.g. 食品经营许可证)")
	f.StringVar(&t.DefinerName, "definer-name", "", "defining authority's name (default: your department's)")
	f.StringVar(&t.HolderType, "holder-type", "", "GB/T 36903 holder type: 001 legal person, 111 natural person, …")
	f.StringArrayVar(&items, "item", nil, "data item key:name[:required] (repeat)")
	return cmd
}

// auditRecordCmd: AuditService.GetRecord.
func auditRecordCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "record INDEX",
		Short: "Show one audit record by its log index (auditor, or the department that acted)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			idx, err := strconv.ParseUint(args[0], 10, 64)
			if err != nil {
				return exitf(2, "INDEX must be a log index (0, 1, …)")
			}
			return withClient(cmd, func(c *sdk.Client) error {
				ctx, cancel := callContext()
				defer cancel()
				r, err := c.Audit.GetRecord(ctx, &auditv1.GetRecordRequest{Index: idx})
				if err != nil {
					return callErr(err)
				}
				if _, err := sdk.VerifySearchResult(r); err != nil {
					return exitf(1, "%v", err)
				}
				if global.json {
					return printProto(cmd.OutOrStdout(), r)
				}
				var tw table
				for i, h := range recordHeader {
					if row := recordRow(r); i < len(row) && row[i] != "" {
						tw.row(h, row[i])
					}
				}
				return tw.write(cmd.OutOrStdout())
			})
		},
	}
}

// auditConsistencyCmd: AuditService.GetConsistencyProof.
func auditConsistencyCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "consistency SIZE1 SIZE2",
		Short: "The RFC 6962 consistency proof between two tree sizes (the log only grew)",
		Long: `Print the consistency proof between the log at SIZE1 and at SIZE2 (0 = the latest head).
Check it against two signed heads you kept (RFC 6962 §2.1.2): a valid proof shows
nothing logged before SIZE1 was changed or removed afterwards.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			s1, err1 := strconv.ParseUint(args[0], 10, 64)
			s2, err2 := strconv.ParseUint(args[1], 10, 64)
			if err1 != nil || err2 != nil {
				return exitf(2, "SIZE1 and SIZE2 must be tree sizes (whole numbers)")
			}
			return withClient(cmd, func(c *sdk.Client) error {
				ctx, cancel := callContext()
				defer cancel()
				p, err := c.Audit.GetConsistencyProof(ctx, &auditv1.GetConsistencyProofRequest{Size1: s1, Size2: s2})
				if err != nil {
					return callErr(err)
				}
				if global.json {
					return printProto(cmd.OutOrStdout(), p)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "consistency %d → %d: %d hashes\n", p.GetSize1(), p.GetSize2(), len(p.GetHashes()))
				for _, h := range p.GetHashes() {
					fmt.Fprintln(cmd.OutOrStdout(), hex.EncodeToString(h))
				}
				return nil
			})
		},
	}
}
