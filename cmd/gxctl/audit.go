package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/ledger/tiles"
	"github.com/gxhub/gxhub/ledger/witness"
	"github.com/gxhub/gxhub/sdk"
	auditv1 "github.com/gxhub/gxhub/sdk/api/audit/v1"
)

func init() { root.AddCommand(auditCmd()) }

func auditCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Audit log: signed heads, records, proofs and offline verification"}

	head := &cobra.Command{
		Use:   "head",
		Short: "Show the latest signed tree head and anchor",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, ctx, done, err := connect(cmd, false)
			if err != nil {
				return err
			}
			defer done()
			h, err := c.Audit.GetTreeHead(ctx, &auditv1.GetTreeHeadRequest{})
			if err != nil {
				return callErr(err)
			}
			a, aerr := c.Audit.GetAnchor(ctx, &auditv1.GetAnchorRequest{})
			if global.json {
				return printJSON(cmd.OutOrStdout(), map[string]any{"head": h, "anchor": a})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "log %s  size %d  root %x  signed %s\n", h.GetLogId(), h.GetTreeSize(), h.GetRootHash(), showTS(h.GetTime()))
			if aerr == nil {
				fmt.Fprintf(cmd.OutOrStdout(), "anchored: block %d (%s) covers size %d\n", a.GetHeight(), a.GetRef(), a.GetHead().GetTreeSize())
			} else {
				fmt.Fprintln(cmd.OutOrStdout(), "anchored: none yet")
			}
			return nil
		},
	}

	var out string
	proof := &cobra.Command{
		Use:   "proof INDEX",
		Short: "Fetch a record's receipt (inclusion proof up to an anchored head), verify it, and save it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			idx, err := strconv.ParseUint(args[0], 10, 64)
			if err != nil {
				return exitf(2, "INDEX must be a record number (0, 1, ...)")
			}
			c, ctx, done, err := connect(cmd, true)
			if err != nil {
				return err
			}
			defer done()
			r, err := c.AuditReceipt(ctx, idx)
			if err != nil {
				return callErr(err)
			}
			rec, err := sdk.VerifyAuditReceipt(r, "")
			if err != nil {
				return exitf(1, "receipt does not verify: %v", err)
			}
			if out != "" {
				b, err := json.MarshalIndent(r, "", "  ")
				if err != nil {
					return err
				}
				if err := os.WriteFile(out, append(b, '\n'), 0o644); err != nil {
					return exitf(2, "write %s: %v", out, err)
				}
			}
			if global.json {
				return printJSON(cmd.OutOrStdout(), r)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "record %d: %s by %s at %s, outcome %s\n", idx, rec.Kind, rec.Department, showTime(rec.Time), rec.Outcome)
			fmt.Fprintf(w, "included in signed head of size %d (root %x): verified\n", r.Head.Size, r.Head.Root)
			if r.Request != nil {
				who, err := sdk.VerifyRequestEvidence(rec, r.Request, "")
				if err != nil {
					return exitf(1, "the signed request behind the record does not verify: %v", err)
				}
				fmt.Fprintln(w, describeRequester(who)+": signature verified")
			}
			if r.Anchored {
				fmt.Fprintf(w, "anchored in block %d (%s): verified\n", r.Anchor.Height, r.Anchor.Ref)
			} else {
				fmt.Fprintln(w, "not anchored yet: the next anchoring interval will cover it")
			}
			if r.Checkpoint != "" {
				fmt.Fprintf(w, "the head is a checkpoint cosigned by witnesses (check them: gxctl audit verify --witness NAME=KEYFILE)\n")
			} else {
				fmt.Fprintln(w, "no witness has cosigned a checkpoint covering it yet")
			}
			if out != "" {
				fmt.Fprintf(w, "receipt saved to %s (check offline: gxctl audit verify %s)\n", out, out)
			}
			return nil
		},
	}
	proof.Flags().StringVarP(&out, "out", "o", "", "save the receipt (JSON) for offline verification")

	var (
		logKey, rootFile string
		tilesURL         string
		witnesses        []string
		threshold        int
	)
	verifyCmd := &cobra.Command{
		Use:   "verify RECEIPT.json",
		Short: "Verify a saved receipt offline (no hub needed), optionally requiring k of n witness cosignatures",
		Long: `Verify a saved receipt offline: the record's inclusion in the signed tree head, the anchor
block (signed by the hub's anchor key, never its tree-head key) and its consistency with
the head, and the certificates that say which hub key signs what. With --tiles URL, verify instead the
whole log the hub publishes without its API (C2SP tlog-tiles): fetch its checkpoint and
every hash tile, rebuild the tree from the leaf hashes and check the root and every upper
tile against the checkpoint signed with --log-key (required). With --witness, the
head must be a checkpoint cosigned by at least --witness-threshold of the named witnesses
(default: all of them). Exit 0 VALID, 1 INVALID, 2 usage.`,
		Example: `  gxctl audit verify receipt.json --log-key log-key.pem --root hub-root.pem \
    --witness sj-witness=sj-witness.pem --witness tj-witness=tj-witness.pem --witness-threshold 1
  gxctl audit verify --tiles https://hub.example.gov.cn:8443 --log-key log-key.pem --ca tls-ca.pem`,
		Args: cobra.RangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if tilesURL != "" {
				if len(args) != 0 {
					return exitf(2, "give either a receipt file or --tiles URL, not both")
				}
				return verifyTiles(cmd, tilesURL, logKey, witnesses, threshold)
			}
			if len(args) != 1 {
				return exitf(2, "give the receipt file to verify (or --tiles URL to verify the whole published log)")
			}
			b, err := os.ReadFile(args[0])
			if err != nil {
				return exitf(2, "%v", err)
			}
			var r sdk.AuditReceipt
			if err := json.Unmarshal(b, &r); err != nil {
				return exitf(2, "%s is not a receipt: %v", args[0], err)
			}
			var pol sdk.ReceiptPolicy
			if logKey != "" {
				k, err := os.ReadFile(logKey)
				if err != nil {
					return exitf(2, "--log-key: %v", err)
				}
				pol.LogKeyPEM = string(k)
			}
			if rootFile != "" {
				k, err := os.ReadFile(rootFile)
				if err != nil {
					return exitf(2, "--root: %v", err)
				}
				pol.HubCAPEM = string(k)
			}
			for _, w := range witnesses {
				name, file, ok := strings.Cut(w, "=")
				if !ok || name == "" || file == "" {
					return exitf(2, "--witness %q: give NAME=KEYFILE (the witness's name and its public key PEM)", w)
				}
				k, err := os.ReadFile(file)
				if err != nil {
					return exitf(2, "--witness %s: %v", name, err)
				}
				pol.Witnesses = append(pol.Witnesses, sdk.WitnessKey{Name: name, PublicPEM: string(k)})
			}
			pol.Threshold = threshold
			if threshold < 0 {
				pol.Threshold = len(pol.Witnesses)
			}
			if pol.Threshold > len(pol.Witnesses) {
				return exitf(2, "--witness-threshold %d is more than the %d witnesses named with --witness", pol.Threshold, len(pol.Witnesses))
			}
			v, err := sdk.VerifyAuditReceiptPolicy(&r, pol)
			rec := v.Record
			var who *sdk.Requester
			if err == nil && r.Request != nil {
				who, err = sdk.VerifyRequestEvidence(rec, r.Request, pol.HubCAPEM)
			}
			if global.json {
				res := map[string]any{"valid": err == nil, "index": r.Index, "tree_size": r.Head.Size, "anchored": r.Anchored, "pinned_key": pol.LogKeyPEM != "",
					"key_purposes_checked": v.KeyPurposes, "pinned_root": pol.HubCAPEM != "", "cosigned_by": v.Cosigners, "witness_threshold": pol.Threshold}
				if err != nil {
					res["error"] = err.Error()
				} else {
					res["kind"], res["department"], res["outcome"], res["time"] = rec.Kind, rec.Department, rec.Outcome, rec.Time
					if r.Anchored {
						res["anchor_height"] = r.Anchor.Height
					}
					if who != nil {
						res["requester"] = who
						res["not_checked"] = "revocation status of the requester's certificate (the hub refused revoked and suspended signers when it accepted the request)"
					}
				}
				if perr := printJSON(cmd.OutOrStdout(), res); perr != nil {
					return perr
				}
				if err != nil {
					return &exitError{code: 1, err: errors.New("")}
				}
				return nil
			}
			if err != nil {
				return exitf(1, "INVALID: %v", err)
			}
			msg := "VALID: record %d (%s by %s, %s) is in the signed head of size %d"
			if r.Anchored {
				msg += fmt.Sprintf(", anchored in block %d", r.Anchor.Height)
			}
			if pol.Threshold > 0 {
				msg += fmt.Sprintf(", cosigned by %d of %d named witnesses (%s)", len(v.Cosigners), len(pol.Witnesses), strings.Join(v.Cosigners, ", "))
			}
			fmt.Fprintf(cmd.OutOrStdout(), msg+"\n", r.Index, rec.Kind, rec.Department, rec.Outcome, r.Head.Size)
			if who != nil {
				fmt.Fprintln(cmd.OutOrStdout(), describeRequester(who)+": signature verified at the signing time, certificate chains to the hub's root")
				fmt.Fprintln(cmd.OutOrStdout(), "not checked offline: the revocation status of the requester's certificate (the hub refused revoked and suspended signers when it accepted the request)")
				if rootFile == "" {
					fmt.Fprintln(cmd.ErrOrStderr(), "note: the requester's chain was checked against the root inside the receipt; pass --root with the hub's root CA obtained out of band to pin it")
				}
			}
			if pol.LogKeyPEM == "" {
				fmt.Fprintln(cmd.ErrOrStderr(), "note: checked with the key inside the receipt; pass --log-key with the log key obtained out of band to pin it")
			}
			if !v.KeyPurposes {
				fmt.Fprintln(cmd.ErrOrStderr(), "note: the receipt carries no key certificates: which key signs what was not checked against the hub CA")
			}
			if pol.Threshold == 0 {
				fmt.Fprintln(cmd.ErrOrStderr(), "note: no witness required; pass --witness NAME=KEYFILE to require cosignatures by departments other than the hub")
			}
			return nil
		},
	}
	verifyCmd.Flags().StringVar(&tilesURL, "tiles", "", "instead of a receipt, verify the whole log the hub publishes at this URL (its /checkpoint and C2SP tlog-tiles /tile/…): rebuild the tree from the leaf hashes and check it against the checkpoint signed with --log-key")
	verifyCmd.Flags().StringVar(&logKey, "log-key", "", "PEM of the log's public key (from `gxctl audit key` on a trusted channel)")
	verifyCmd.Flags().StringVar(&rootFile, "root", "", "PEM of the hub's root CA (from the trust bundle on a trusted channel): pins the requester's certificate chain and the hub's key certificates")
	verifyCmd.Flags().StringArrayVar(&witnesses, "witness", nil, "NAME=KEYFILE of a witness you trust (repeat for each)")
	verifyCmd.Flags().IntVar(&threshold, "witness-threshold", -1, "how many of the named witnesses must have cosigned (default: all)")

	key := &cobra.Command{
		Use:   "key",
		Short: "Print the log's public key (PEM) to pin for offline verification",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, ctx, done, err := connect(cmd, false)
			if err != nil {
				return err
			}
			defer done()
			info, err := c.Audit.GetLogInfo(ctx, &auditv1.GetLogInfoRequest{})
			if err != nil {
				return callErr(err)
			}
			fmt.Fprint(cmd.OutOrStdout(), strings.TrimSpace(info.GetPublicKeyPem())+"\n")
			return nil
		},
	}
	cmd.AddCommand(head, proof, verifyCmd, key, traceCmd(), anomaliesCmd(), usageCmd(), auditRecordCmd(), auditConsistencyCmd(), checkPullCmd())
	return cmd
}

// chinaTime is UTC+8, the zone of dates given without a time.
var chinaTime = time.FixedZone("CST", 8*3600)

// parseAuditTime parses RFC 3339 or a date (YYYY-MM-DD, midnight China Standard Time).
func parseAuditTime(flag, v string) (*timestamppb.Timestamp, error) {
	if v == "" {
		return nil, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return timestamppb.New(t), nil
	}
	if t, err := time.ParseInLocation("2006-01-02", v, chinaTime); err == nil {
		return timestamppb.New(t), nil
	}
	return nil, exitf(2, "--%s %q: give RFC 3339 (2026-11-21T08:00:00+08:00) or a date (2026-11-21, midnight UTC+8)", flag, v)
}

// readSubject returns the subject, reading it from stdin when it is "-" (keeps ID numbers
// out of shell history and process lists).
func readSubject(cmd *cobra.Command, v string) (string, error) {
	if v != "-" {
		return v, nil
	}
	line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", exitf(2, "read the subject from stdin: %v", err)
	}
	if line = strings.TrimSpace(line); line == "" {
		return "", exitf(2, "no subject on stdin")
	}
	return line, nil
}

func recordRow(r *auditv1.AuditRecord) []string {
	return []string{strconv.FormatUint(r.GetIndex(), 10), r.GetTime().AsTime().In(chinaTime).Format(time.RFC3339), r.GetKind(), r.GetDepartment(), r.GetOperator(),
		r.GetResource(), strings.Join(r.GetDataItems(), ";"), r.GetSubjectKey(), r.GetMatter(), r.GetCaseNumber(), r.GetOutcome(), r.GetReason(), r.GetRequestId()}
}

var recordHeader = []string{"index", "time", "kind", "department", "operator", "resource", "data_items", "subject_key", "matter", "case", "outcome", "reason", "request_id"}

func traceCmd() *cobra.Command {
	var (
		req                 auditv1.SearchRecordsRequest
		from, to, format, o string
		quiet               bool
	)
	cmd := &cobra.Command{
		Use:   "trace",
		Short: "Search and export audit records (auditor role): by subject, department, resource, case, matter, kind, outcome, time",
		Long: `Search the audit log and export the matches in log order, as a table, CSV or JSON
(one array). Each row carries its record index: prove any of them with 'gxctl audit proof INDEX'.

The subject (ID number or 统一社会信用代码) is hashed by the hub with its subject key and
is never stored; pass --subject - to read it from stdin rather than the command line.
A running count goes to stderr while exporting (silence it with --quiet).`,
		Example: `  gxctl audit trace --subject - --format csv -o trace.csv < id.txt
  gxctl audit trace --department 11500000000000007X --from 2026-11-01 --to 2026-12-01 --kind pull
  gxctl audit trace --kind pull --without-case --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if req.Subject, err = readSubject(cmd, req.Subject); err != nil {
				return err
			}
			if req.From, err = parseAuditTime("from", from); err != nil {
				return err
			}
			if req.To, err = parseAuditTime("to", to); err != nil {
				return err
			}
			if global.json {
				format = "json"
			}
			if format != "table" && format != "csv" && format != "json" {
				return exitf(2, "--format %q: use table, csv or json", format)
			}
			w := cmd.OutOrStdout()
			if o != "" {
				f, err := os.Create(o)
				if err != nil {
					return exitf(2, "%v", err)
				}
				defer f.Close()
				w = f
			}
			bw := bufio.NewWriter(w)
			c, err := dial(cmd.Context(), true)
			if err != nil {
				return err
			}
			defer c.Close()
			var (
				tbl table
				cw  *csv.Writer
			)
			switch format {
			case "table":
				tbl.row("INDEX", "TIME", "KIND", "DEPARTMENT", "RESOURCE", "MATTER", "CASE", "OUTCOME", "REASON")
			case "csv":
				cw = csv.NewWriter(bw)
				if err := cw.Write(recordHeader); err != nil {
					return err
				}
			case "json":
				bw.WriteString("[")
			}
			mo := protojson.MarshalOptions{UseProtoNames: true}
			first := true
			bar := newProgress(cmd.ErrOrStderr(), "traced", "records", 0)
			n, err := c.SearchAuditRecords(cmd.Context(), &req, func(r *auditv1.AuditRecord) error {
				switch format {
				case "table":
					row := recordRow(r) // CSV keeps RFC 3339; the table the one time format
					tbl.row(row[0], showTS(r.GetTime()), row[2], row[3], row[5], row[8], row[9], row[10], row[11])
				case "csv":
					return cw.Write(recordRow(r))
				case "json":
					b, err := mo.Marshal(r)
					if err != nil {
						return err
					}
					if !first {
						bw.WriteString(",")
					}
					first = false
					bw.WriteString("\n  ")
					_, err = bw.Write(b)
					return err
				}
				return nil
			}, func(n int) {
				if !quiet && (o != "" || format != "table") {
					bar.set(n, "")
				}
			})
			if !quiet && (o != "" || format != "table") {
				bar.done()
			}
			if err != nil {
				return callErr(err)
			}
			switch format {
			case "table":
				if err := tbl.write(bw); err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "%d records\n", n)
			case "csv":
				cw.Flush()
				if err := cw.Error(); err != nil {
					return err
				}
			case "json":
				bw.WriteString("\n]\n")
			}
			if err := bw.Flush(); err != nil {
				return exitf(2, "write: %v", err)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.Subject, "subject", "", "data subject: ID number or 统一社会信用代码 (- reads it from stdin)")
	f.StringVar(&req.SubjectKey, "subject-key", "", "data subject as its keyed hash (hex, as in records)")
	f.StringVar(&req.Department, "department", "", "acting department code")
	f.StringVar(&req.Resource, "resource", "", "resource (or certificate serial, policy id) acted on")
	f.StringVar(&req.CaseNumber, "case", "", "case number (办件编码)")
	f.StringVar(&req.Matter, "matter", "", "matter (事项) code")
	f.StringVar(&req.Kind, "kind", "", "record kind: pull, publish, requirement.decision, subject.usage, …")
	f.StringVar(&req.Outcome, "outcome", "", "granted, denied, ok or failed")
	f.StringVar(&req.ReasonCode, "reason-code", "", "leading token of the reason, e.g. REQUIREMENT_REVOKED or revoke")
	f.BoolVar(&req.WithoutCase, "without-case", false, "only records without a case number")
	f.StringVar(&from, "from", "", "records at or after (RFC 3339, or YYYY-MM-DD at 00:00 UTC+8)")
	f.StringVar(&to, "to", "", "records before (RFC 3339, or YYYY-MM-DD at 00:00 UTC+8)")
	f.Int32Var(&req.PageSize, "page-size", 500, "records per request (1..1000)")
	f.StringVar(&format, "format", "table", "table, csv or json")
	f.StringVarP(&o, "out", "o", "", "write the export to a file")
	f.BoolVarP(&quiet, "quiet", "q", false, "no progress count on stderr")
	return cmd
}

func anomaliesCmd() *cobra.Command {
	var (
		req      auditv1.ListAnomaliesRequest
		from, to string
	)
	cmd := &cobra.Command{
		Use:   "anomalies",
		Short: "Flag pulls without a case, volume spikes, use after revocation, and cases pulling many or unrelated subjects or open too long (auditor role)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if req.From, err = parseAuditTime("from", from); err != nil {
				return err
			}
			if req.To, err = parseAuditTime("to", to); err != nil {
				return err
			}
			c, ctx, done, err := connect(cmd, true)
			if err != nil {
				return err
			}
			defer done()
			resp, err := c.Audit.ListAnomalies(ctx, &req)
			if err != nil {
				return callErr(err)
			}
			if global.json {
				return printProto(cmd.OutOrStdout(), resp)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "window %s – %s\n", showTS(resp.GetFrom()), showTS(resp.GetTo()))
			for _, r := range resp.GetRules() {
				fmt.Fprintf(w, "rule  %s\n", r)
			}
			var tbl table
			tbl.row("RULE", "DEPARTMENT", "CASE", "RECORDS", "EXPLANATION")
			for _, a := range resp.GetAnomalies() {
				var idx []string
				for _, i := range a.GetRecordIndices() {
					idx = append(idx, strconv.FormatUint(i, 10))
				}
				if len(idx) > 5 {
					idx = append(idx[:5], fmt.Sprintf("… (%d)", len(a.GetRecordIndices())))
				}
				tbl.row(a.GetRule(), a.GetDepartment(), a.GetCaseNumber(), strings.Join(idx, ","), a.GetExplanation())
			}
			if err := tbl.write(w); err != nil {
				return err
			}
			fmt.Fprintf(w, "%d anomalies", len(resp.GetAnomalies()))
			if resp.GetTruncated() {
				fmt.Fprint(w, " (more exist: raise --limit or narrow the window)")
			}
			fmt.Fprintln(w)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&from, "from", "", "window start (default: 24 hours before --to)")
	f.StringVar(&to, "to", "", "window end, exclusive (default: now)")
	f.Float64Var(&req.SpikeFactor, "spike-factor", 0, "spike when an hour exceeds this × the baseline median (default 3)")
	f.Int64Var(&req.SpikeMinCount, "spike-min", 0, "and has at least this many pulls (default 20)")
	f.Int32Var(&req.BaselineHours, "baseline-hours", 0, "hours of baseline before each hour (default 24)")
	f.Int32Var(&req.Limit, "limit", 0, "most anomalies listed (default 1000)")
	f.Int32Var(&req.CaseSubjectsMin, "case-subjects", 0, "flag a case whose pulls name at least this many distinct subjects (default 10)")
	f.Float64Var(&req.CaseOverdueFactor, "case-overdue", 0, "flag an open case older than this × its matter's time limit (default 2)")
	return cmd
}

func usageCmd() *cobra.Command {
	var req auditv1.SubjectUsageRequest
	cmd := &cobra.Command{
		Use:   "usage",
		Short: "Who used a citizen's or company's data, when and why (coordinator or auditor, for an authenticated holder)",
		Long: `List every audit record about a data subject, with the department's name, matter, case,
data items and outcome: the citizen / company view (REQUIREMENTS C5).

gxhub has no citizen identity provider. Your department answers for the holder after it has
authenticated them (at a service window, through its own portal): --holder-ref says how
(your case or session reference). Every lookup is itself recorded in the audit log (kind
subject.usage, the subject hashed, the reference as reason), so looking is traceable too.`,
		Example: `  echo 11010519491231002X | gxctl audit usage --subject - --holder-ref "窗口办件 W-42"`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if req.Subject, err = readSubject(cmd, req.Subject); err != nil {
				return err
			}
			c, err := dial(cmd.Context(), true)
			if err != nil {
				return err
			}
			defer c.Close()
			var uses []*auditv1.SubjectUse
			var lookups []uint64
			for {
				ctx, cancel := callContext()
				resp, err := c.Audit.SubjectUsage(ctx, &req)
				cancel()
				if err != nil {
					return callErr(err)
				}
				uses = append(uses, resp.GetUses()...)
				lookups = append(lookups, resp.GetLookupIndex())
				if req.PageToken = resp.GetNextPageToken(); req.PageToken == "" {
					break
				}
			}
			if global.json {
				return printJSON(cmd.OutOrStdout(), map[string]any{"uses": uses, "lookup_indices": lookups})
			}
			var tbl table
			tbl.row("TIME", "DEPARTMENT", "KIND", "RESOURCE", "DATA ITEMS", "MATTER", "CASE", "OUTCOME")
			for _, u := range uses {
				who := u.GetDepartmentName()
				if who == "" {
					who = u.GetDepartment()
				}
				tbl.row(showTS(u.GetTime()), who, u.GetKind(), u.GetResource(), strings.Join(u.GetDataItems(), "、"),
					u.GetMatter(), u.GetCaseNumber(), u.GetOutcome())
			}
			if err := tbl.write(cmd.OutOrStdout()); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d uses; this lookup is audit record %v\n", len(uses), lookups)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.Subject, "subject", "", "the holder's ID number or 统一社会信用代码 (- reads it from stdin)")
	f.StringVar(&req.HolderReference, "holder-ref", "", "how your department authenticated the holder (recorded with the lookup)")
	f.Int32Var(&req.PageSize, "page-size", 500, "records per request (1..1000)")
	return cmd
}

// describeRequester says who signed the request behind a record, when, and what it asked.
func describeRequester(w *sdk.Requester) string {
	who := "department " + w.Department + " (its own key)"
	if w.Operator != "" {
		who = fmt.Sprintf("operator %s (certificate %s) of department %s", w.OperatorName, w.Operator, w.Department)
	}
	return fmt.Sprintf("requested by %s at %s: %s %s", who, showTime(w.SignedAt), w.Method, w.Path)
}

// verifyTiles checks the log published at base (C2SP tlog-tiles) against its checkpoint,
// signed by the log key in logKeyFile and cosigned by the named witnesses.
func verifyTiles(cmd *cobra.Command, base, logKeyFile string, witnesses []string, threshold int) error {
	if logKeyFile == "" {
		return exitf(2, "--tiles needs --log-key: the log's public key PEM obtained on a trusted channel (gxctl audit key)")
	}
	b, err := os.ReadFile(logKeyFile)
	if err != nil {
		return exitf(2, "--log-key: %v", err)
	}
	pub, err := sm.ParsePublicKeyPEM(b)
	if err != nil {
		return exitf(2, "--log-key %s: %v", logKeyFile, err)
	}
	var wkeys []*witness.Key
	for _, w := range witnesses {
		name, file, ok := strings.Cut(w, "=")
		if !ok || name == "" || file == "" {
			return exitf(2, "--witness %q: give NAME=KEYFILE (the witness's name and its public key PEM)", w)
		}
		kb, err := os.ReadFile(file)
		if err != nil {
			return exitf(2, "--witness %s: %v", name, err)
		}
		wpub, err := sm.ParsePublicKeyPEM(kb)
		if err != nil {
			return exitf(2, "--witness %s: %v", name, err)
		}
		k, err := witness.NewKey(name, witness.TypeCosignature, wpub)
		if err != nil {
			return exitf(2, "--witness %s: %v", name, err)
		}
		wkeys = append(wkeys, k)
	}
	if threshold < 0 {
		threshold = len(wkeys)
	}
	if threshold > len(wkeys) {
		return exitf(2, "--witness-threshold %d is more than the %d witnesses named with --witness", threshold, len(wkeys))
	}
	client, err := httpClient(nil)
	if err != nil {
		return err
	}
	var origin string
	var cosigners []string
	check := func(note []byte) (uint64, []byte, error) {
		n, err := witness.ParseNote(note)
		if err != nil {
			return 0, nil, fmt.Errorf("%w: %v", ledger.ErrVerification, err)
		}
		body, err := witness.ParseBody(n.Body)
		if err != nil {
			return 0, nil, fmt.Errorf("%w: %v", ledger.ErrVerification, err)
		}
		origin = body.Origin
		key, err := witness.NewKey(origin, witness.TypeCheckpoint, pub)
		if err != nil {
			return 0, nil, err
		}
		cp, who, err := witness.VerifyCosigned(note, key, wkeys, threshold)
		cosigners = who
		return cp.Size, cp.Root, err
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), 10*global.timeout)
	defer cancel()
	v, err := tiles.Verify(ctx, client, base, check)
	if global.json {
		res := map[string]any{"valid": err == nil, "url": base, "log": origin, "tree_size": v.Size, "tiles_checked": v.Tiles, "cosigned_by": cosigners, "witness_threshold": threshold}
		if err != nil {
			res["error"] = err.Error()
		} else {
			res["root"] = base64.StdEncoding.EncodeToString(v.Root)
		}
		if perr := printJSON(cmd.OutOrStdout(), res); perr != nil {
			return perr
		}
		if err != nil {
			return &exitError{code: 1, err: errors.New("")}
		}
		return nil
	}
	if err != nil {
		return exitf(1, "INVALID: %v", err)
	}
	msg := fmt.Sprintf("VALID: log %s at %s: %d records, root %s rebuilt from %d tiles, checkpoint signed by the log key",
		origin, base, v.Size, base64.StdEncoding.EncodeToString(v.Root), v.Tiles)
	if threshold > 0 {
		msg += fmt.Sprintf(", cosigned by %d of %d named witnesses (%s)", len(cosigners), len(wkeys), strings.Join(cosigners, ", "))
	}
	fmt.Fprintln(cmd.OutOrStdout(), msg)
	fmt.Fprintln(cmd.ErrOrStderr(), "note: the tiles hold the records' hashes; the records themselves are read through the audit API (gxctl audit record N) by those allowed to")
	return nil
}
