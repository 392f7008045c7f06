package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/sdk"
	auditv1 "github.com/gxhub/gxhub/sdk/api/audit/v1"
	"github.com/gxhub/gxhub/sdk/api/convert"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
)

func init() { root.AddCommand(matterCmd()) }

func matterCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "matter", Short: "Matter registry (事项目录, kept by the coordinator): materials and which must not be demanded (免于提交)"}

	var file, code, name, department string
	var version, timeLimit int32
	var materials []string
	var basis basisFlags
	define := &cobra.Command{
		Use:   "define",
		Short: "Coordinator: register a matter, or change it (--version = the current version)",
		Example: `  gxctl matter define --code 500112-QYKB-0001 --name 企业开办 --department 11500112000000086R --time-limit 3 \
    --legal-basis 行政法规:优化营商环境条例:第三十五条:国务院令第722号 \
    --material "business_licence:营业执照:resource=500000-SCJG-0001:items=uscc,name" \
    --material "id_card:居民身份证:ecert=11999999000000029N001" --material "articles:公司章程"
  gxctl matter define --file matter.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m := &exchangev1.Matter{}
			if file != "" {
				if err := readProtoFile(cmd, file, m); err != nil {
					return err
				}
			}
			fl := cmd.Flags()
			if fl.Changed("code") {
				m.Code = code
			}
			if fl.Changed("name") {
				m.Name = name
			}
			if fl.Changed("version") {
				m.Version = version
			}
			if fl.Changed("department") {
				m.Department = department
			}
			if fl.Changed("time-limit") {
				m.TimeLimitDays = timeLimit
			}
			if b := basis.build(cmd); b != nil {
				m.LegalBasis = b
			}
			if len(materials) > 0 {
				m.Materials = nil
				for _, s := range materials {
					mt, err := parseMaterial(s)
					if err != nil {
						return err
					}
					m.Materials = append(m.Materials, mt)
				}
			}
			return withClient(cmd, func(c *sdk.Client) error {
				resp, err := call(func(ctx context.Context) (*exchangev1.DefineMatterResponse, error) {
					return c.Matters.DefineMatter(ctx, &exchangev1.DefineMatterRequest{Matter: m})
				})
				if err != nil {
					return err
				}
				return printMatter(cmd, resp.GetMatter())
			})
		},
	}
	define.Flags().StringVar(&file, "file", "", "the matter as JSON (gxhub.exchange.v1.Matter; '-' for stdin)")
	define.Flags().StringVar(&code, "code", "", "matter code (事项编码)")
	define.Flags().StringVar(&name, "name", "", "matter name")
	define.Flags().Int32Var(&version, "version", 0, "current version when changing a matter (0 = new)")
	define.Flags().StringVar(&department, "department", "", "handling department's code (办理部门)")
	define.Flags().Int32Var(&timeLimit, "time-limit", 0, "promised time limit in working days (承诺办结时限)")
	basis.add(define, "the document that sets up the matter (设定依据)")
	define.Flags().StringArrayVar(&materials, "material", nil, "id:name[:resource=CODE:items=a,b][:ecert=TYPE] (repeat)")

	get := &cobra.Command{
		Use:   "get CODE",
		Short: "Show a matter and its materials",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withClient(cmd, func(c *sdk.Client) error {
				m, err := call(func(ctx context.Context) (*exchangev1.Matter, error) {
					return c.Matters.GetMatter(ctx, &exchangev1.GetMatterRequest{Code: args[0]})
				})
				if err != nil {
					return err
				}
				return printMatter(cmd, m)
			})
		},
	}

	var applicant string
	exemptions := &cobra.Command{
		Use:   "exemptions CODE --applicant ID",
		Short: "Which materials your department must not demand from the applicant (免于提交), and why",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if applicant == "" {
				return exitf(2, "--applicant is required: the applicant's 公民身份号码 or 统一社会信用代码")
			}
			return withClient(cmd, func(c *sdk.Client) error {
				resp, err := call(func(ctx context.Context) (*exchangev1.GetExemptionsResponse, error) {
					return c.Matters.GetExemptions(ctx, &exchangev1.GetExemptionsRequest{Code: args[0], Applicant: applicant})
				})
				if err != nil {
					return err
				}
				if global.json {
					return printProto(cmd.OutOrStdout(), resp)
				}
				var tw table
				tw.row("MATERIAL", "NAME", "ANSWER", "SOURCE", "REQUIREMENT", "REASON")
				for _, e := range resp.GetExemptions() {
					answer := "SUBMIT"
					if e.GetExempt() {
						answer = "免于提交"
					}
					tw.row(e.GetMaterial().GetId(), e.GetMaterial().GetName(), answer, e.GetSource(), e.GetRequirement(), e.GetReason())
				}
				return tw.write(cmd.OutOrStdout())
			})
		},
	}
	exemptions.Flags().StringVar(&applicant, "applicant", "", "the applicant's 公民身份号码 or 统一社会信用代码")

	var collectApplicant, caseNo string
	var freshOnly bool
	collect := &cobra.Command{
		Use:   "collect CODE --case CASE",
		Short: "Obtain, for an open case, every material sharing or an e-certificate supplies (signed pulls verified here; recorded in the case)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if caseNo == "" {
				return exitf(2, "--case is required: the open case (办件编码, gxctl case open) the materials are collected for")
			}
			return withClient(cmd, func(c *sdk.Client) error {
				info, err := call(func(ctx context.Context) (*auditv1.LogInfo, error) {
					return c.Audit.GetLogInfo(ctx, &auditv1.GetLogInfoRequest{})
				})
				if err != nil {
					return err
				}
				hubKey, err := sdk.PullKey(info, "", time.Now())
				if err != nil {
					return exitf(1, "hub key: %v", err)
				}
				resp, err := call(func(ctx context.Context) (*exchangev1.CollectMaterialsResponse, error) {
					return c.Matters.CollectMaterials(ctx, &exchangev1.CollectMaterialsRequest{Code: args[0], Applicant: collectApplicant, CaseNumber: caseNo, FreshOnly: freshOnly})
				})
				if err != nil {
					return err
				}
				// Every pulled material must carry the hub's valid signature.
				for _, m := range resp.GetMaterials() {
					if m.GetPull() != nil {
						if _, err := sdk.VerifyPull(m.GetPull(), hubKey); err != nil {
							return exitf(1, "material %s: the hub's signature does not verify: %v", m.GetExemption().GetMaterial().GetId(), err)
						}
					}
				}
				if global.json {
					return printProto(cmd.OutOrStdout(), resp)
				}
				var tw table
				tw.row("MATERIAL", "NAME", "ANSWER", "DATA (signature verified) / REASON")
				for _, m := range resp.GetMaterials() {
					e := m.GetExemption()
					answer, detail := "SUBMIT", e.GetReason()
					if e.GetExempt() {
						answer = "免于提交"
					}
					switch {
					case m.GetErrorReason() != "":
						detail = m.GetErrorReason() + ": " + m.GetErrorMessage()
					case m.GetEcert() != nil:
						detail = "e-certificate " + m.GetEcert().GetIdentifier() + " " + m.GetEcert().GetVerdict() + " (SM3 " + m.GetEcert().GetDigest() + ")"
					case m.GetPull() != nil:
						res, _ := sdk.VerifyPull(m.GetPull(), hubKey)
						var parts []string
						for _, r := range res.GetRecords() {
							for _, k := range sortedKeys(r.GetFields()) {
								parts = append(parts, k+"="+r.GetFields()[k])
							}
						}
						detail = strings.Join(parts, " ")
					}
					tw.row(e.GetMaterial().GetId(), e.GetMaterial().GetName(), answer, detail)
				}
				return tw.write(cmd.OutOrStdout())
			})
		},
	}
	collect.Flags().StringVar(&collectApplicant, "applicant", "", "the applicant (optional: checked against the case's)")
	collect.Flags().StringVar(&caseNo, "case", "", "case number (办件编码) the materials are collected for")
	collect.Flags().BoolVar(&freshOnly, "fresh-only", false, "refuse materials whose data is past its freshness limit")

	cmd.AddCommand(define, get, exemptions, collect, matterListCmd(), matterImportCmd())
	return cmd
}

func parseMaterial(s string) (*exchangev1.Material, error) {
	p := strings.Split(s, ":")
	if len(p) < 2 {
		return nil, exitf(2, "--material %q must be id:name[:resource=CODE:items=a,b][:ecert=TYPE]", s)
	}
	mt := &exchangev1.Material{Id: p[0], Name: p[1]}
	for _, kv := range p[2:] {
		k, v, ok := strings.Cut(kv, "=")
		switch {
		case ok && k == "resource":
			mt.Resource = v
		case ok && k == "items":
			mt.Items = strings.Split(v, ",")
		case ok && k == "ecert":
			mt.EcertType = v
		default:
			return nil, exitf(2, "--material %q: %q is not resource=, items= or ecert=", s, kv)
		}
	}
	return mt, nil
}

func printMatter(cmd *cobra.Command, m *exchangev1.Matter) error {
	if global.json {
		return printProto(cmd.OutOrStdout(), m)
	}
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "%s v%s  %s\nhandled by %s within %d working day(s); basis %s\n\n", m.GetCode(), strconv.Itoa(int(m.GetVersion())), m.GetName(),
		m.GetDepartment(), m.GetTimeLimitDays(), m.GetLegalBasis().GetCitation())
	var tw table
	tw.row("MATERIAL", "NAME", "RESOURCE", "ITEMS", "E-CERT TYPE")
	for _, mt := range m.GetMaterials() {
		tw.row(mt.GetId(), mt.GetName(), mt.GetResource(), strings.Join(mt.GetItems(), ","), mt.GetEcertType())
	}
	return tw.write(w)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// matterImportCmd loads matters from a CSV or JSON file, one DefineMatter each (signed and
// audited like any change); an unchanged matter is skipped, so the import can be re-run.
func matterImportCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "import FILE",
		Short: "Coordinator: register or update matters from a CSV file (one row per material) or a JSON file",
		Long: `Loads the matter registry from a file. CSV: a header line

  ` + strings.Join(exchange.MatterCSVHeader, ",") + `

then one row per material (items separated by ';'; the matter's own columns may be left empty
on its further rows). JSON: an array of gxhub.exchange.v1.Matter objects, or {"matters": [...]}
as 'gxctl --json matter list' prints. Each matter is registered, or changed as a new version
when it differs from the registered one; unchanged matters are skipped.`,
		Example: `  gxctl --identity $COORD matter import matters.csv`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ms, err := readMatterFile(cmd, args[0])
			if err != nil {
				return err
			}
			return withClient(cmd, func(c *sdk.Client) error {
				w := cmd.OutOrStdout()
				for _, m := range ms {
					ctx, cancel := callContext()
					cur, err := c.Matters.GetMatter(ctx, &exchangev1.GetMatterRequest{Code: m.GetCode()})
					cancel()
					switch {
					case err == nil:
						if sameMatter(cur, m) {
							fmt.Fprintf(w, "%s unchanged (v%d)\n", m.GetCode(), cur.GetVersion())
							continue
						}
						m.Version = cur.GetVersion()
					case sdk.Reason(err) == "MATTER_NOT_FOUND":
						m.Version = 0
					default:
						return callErr(err)
					}
					resp, err := call(func(ctx context.Context) (*exchangev1.DefineMatterResponse, error) {
						return c.Matters.DefineMatter(ctx, &exchangev1.DefineMatterRequest{Matter: m})
					})
					if err != nil {
						return fmt.Errorf("matter %s: %w", m.GetCode(), err)
					}
					fmt.Fprintf(w, "%s stored as v%d\n", m.GetCode(), resp.GetMatter().GetVersion())
				}
				return nil
			})
		},
	}
}

// readMatterFile reads matters from CSV or JSON.
func readMatterFile(cmd *cobra.Command, path string) ([]*exchangev1.Matter, error) {
	b, err := readInput(cmd, path)
	if err != nil {
		return nil, exitf(2, "read %s: %v", path, err)
	}
	t := bytes.TrimSpace(bytes.TrimPrefix(b, []byte("\ufeff")))
	switch {
	case bytes.HasPrefix(t, []byte("[")):
		var raw []json.RawMessage
		if err := json.Unmarshal(t, &raw); err != nil {
			return nil, exitf(2, "%s is not a JSON array of matters: %v", path, err)
		}
		out := make([]*exchangev1.Matter, len(raw))
		for i, r := range raw {
			out[i] = &exchangev1.Matter{}
			if err := protojson.Unmarshal(r, out[i]); err != nil {
				return nil, exitf(2, "%s: matter %d: %v", path, i+1, err)
			}
		}
		return out, nil
	case bytes.HasPrefix(t, []byte("{")):
		var l exchangev1.ListMattersResponse
		if err := protojson.Unmarshal(t, &l); err != nil {
			return nil, exitf(2, "%s is not {\"matters\": [...]}: %v", path, err)
		}
		return l.GetMatters(), nil
	}
	ms, err := exchange.ParseMattersCSV(bytes.NewReader(b))
	if err != nil {
		return nil, exitf(2, "%s: %v", path, err)
	}
	out := make([]*exchangev1.Matter, len(ms))
	for i, m := range ms {
		out[i] = convert.MatterToProto(m)
	}
	return out, nil
}

// sameMatter compares what a registration sets (not the version or who stored it).
func sameMatter(a, b *exchangev1.Matter) bool {
	strip := func(m *exchangev1.Matter) *exchangev1.Matter {
		m = convert.MatterToProto(convert.MatterFromProto(m)) // as the hub normalises it
		m.Version, m.UpdatedAt, m.UpdatedBy = 0, nil, ""
		return m
	}
	return proto.Equal(strip(a), strip(b))
}
