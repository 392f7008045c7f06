package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gxhub/gxhub/certs/ecert"
	"github.com/gxhub/gxhub/certs/ecert/ecverify"
	"github.com/gxhub/gxhub/certs/pki"
	certsserver "github.com/gxhub/gxhub/certs/server"
	"github.com/gxhub/gxhub/certs/trust"
	"github.com/gxhub/gxhub/certs/verify"
	"github.com/gxhub/gxhub/sdk"
	adminv1 "github.com/gxhub/gxhub/sdk/api/admin/v1"
	certsv1 "github.com/gxhub/gxhub/sdk/api/certs/v1"
	"github.com/gxhub/gxhub/sdk/api/convert"
)

func init() {
	root.AddCommand(verifyCmd(), verifyBatchCmd(), ecertCmd(), sealCmd())
}

const verifyUsage = `usage: gxctl verify FILE [--data FILE] [--trust DIR|FILE] [--require-chain] [--at RFC3339] [--json]
                    [--online [--identity DIR] [--hub URL] [--ca PEM]]

Verifies an OFD package (GB/T 38540 seals, GB/T 35275 signatures, GB/T 36905 licence
files), a seal (.esl), an SES_Signature or SignedData (with --data), a sealed e-certificate
(JWS) or, with --online, a presentation token. Offline by default: no hub, chains need
--trust (trust anchors and CRLs: a PEM/DER file or a directory), registry status is
unknown. --online sends the file to the hub, which uses its trust store, CRLs and
registries and audits the verification.
Exit status: 0 VALID, 1 INVALID, 2 usage, unreadable input or hub error, 3 INTACT
(signatures intact, trust, revocation or status not established), 4 UNSUPPORTED (a
signature this verifier cannot check).
`

// verifyCmd is "gxctl verify": offline through verify.RunCLI (e-certificate tokens through
// ecverify), or through the hub with --online.
func verifyCmd() *cobra.Command {
	return &cobra.Command{
		Use:                "verify FILE [--data FILE] [--trust PEM] [--json] [--online]",
		Short:              "Verify a sealed OFD, seal, signature or e-certificate (exit 0 VALID, 1 INVALID, 2 error, 3 INTACT, 4 UNSUPPORTED)",
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			code := runVerify(cmd.Context(), args, cmd.OutOrStdout(), cmd.ErrOrStderr())
			if code != 0 {
				return &exitError{code: code, err: errors.New("")}
			}
			return nil
		},
	}
}

type verifyFlags struct {
	data, trust, inter, at    string
	requireChain, asJSON      bool
	online                    bool
	identity, hub, ca, pwFile string
}

func parseVerifyArgs(args []string, stderr io.Writer) (*verifyFlags, []string, error) {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, verifyUsage) }
	var f verifyFlags
	fs.StringVar(&f.data, "data", "", "signed data of an SES_Signature")
	fs.StringVar(&f.trust, "trust", "", "trust anchors and CRLs: a PEM/DER file or a directory")
	fs.StringVar(&f.inter, "intermediates", "", "PEM file of intermediate CAs (offline)")
	fs.StringVar(&f.at, "at", "", "time for a standalone seal's validity (offline)")
	fs.BoolVar(&f.requireChain, "require-chain", false, "an untrusted chain fails instead of unknown")
	fs.BoolVar(&f.asJSON, "json", global.json, "print the report as JSON")
	fs.BoolVar(&f.online, "online", false, "verify through the hub")
	fs.StringVar(&f.identity, "identity", global.identity, "department identity directory (with --online)")
	fs.StringVar(&f.hub, "hub", global.hub, "hub URL (with --online)")
	fs.StringVar(&f.ca, "ca", global.caFile, "hub TLS CA PEM (with --online)")
	fs.StringVar(&f.pwFile, "password-file", global.passwordFile, "password of an encrypted identity key")
	var files []string
	rest := args
	for {
		if err := fs.Parse(rest); err != nil {
			return nil, nil, err
		}
		if fs.NArg() == 0 {
			break
		}
		files = append(files, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	return &f, files, nil
}

func runVerify(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f, files, err := parseVerifyArgs(args, stderr)
	if err != nil {
		return verify.ExitUsage
	}
	if len(files) != 1 {
		fmt.Fprintf(stderr, "gxctl verify: need exactly one FILE, got %d\n%s", len(files), verifyUsage)
		return verify.ExitUsage
	}
	if f.online {
		return verifyOnline(ctx, f, files, stdout, stderr, false)
	}
	input, err := os.ReadFile(files[0])
	if err != nil {
		fmt.Fprintf(stderr, "gxctl verify: %v\n", err)
		return verify.ExitUsage
	}
	switch ecverify.TokenType(input) {
	case ecert.SealedType:
		return verifyTokenOffline(ctx, f, filepath.Base(files[0]), input, stdout, stderr)
	case ecert.PresentationType:
		fmt.Fprintln(stderr, "gxctl verify: a presentation token is verified by its approver at the hub: add --online (or use gxctl ecert verify-presentation)")
		return verify.ExitUsage
	}
	if _, err := verify.Detect(input); err != nil {
		fmt.Fprintf(stderr, "gxctl verify: %s is unrecognised: not an OFD package (.ofd), a seal (.esl), an SES signature (with --data) or a sealed e-certificate (compact JWS, .jws, as `gxctl ecert issue --out` writes it); a presentation token needs --online\n", files[0])
		return verify.ExitUsage
	}
	pass := []string{files[0]}
	add := func(name, v string) {
		if v != "" {
			pass = append(pass, "--"+name, v)
		}
	}
	add("data", f.data)
	add("trust", f.trust)
	add("intermediates", f.inter)
	add("at", f.at)
	if f.requireChain {
		pass = append(pass, "--require-chain")
	}
	if f.asJSON {
		pass = append(pass, "--json")
	}
	return verify.RunCLI(pass, stdout, stderr)
}

// verifyTokenOffline checks a sealed e-certificate without the hub: signature, chain
// (with --trust), the signer's revocation (CRLs in --trust), issuer, metadata against the
// demo catalogue, validity today; registry status is unknown offline, so at best INTACT.
func verifyTokenOffline(ctx context.Context, f *verifyFlags, name string, input []byte, stdout, stderr io.Writer) int {
	v := &ecverify.Verifier{Catalogue: func(context.Context) (*ecert.Catalogue, error) { return ecert.DemoCatalogue() }}
	if f.trust != "" {
		b, err := trust.Load(f.trust)
		if err != nil {
			fmt.Fprintf(stderr, "gxctl verify: --trust: %v\n", err)
			return verify.ExitUsage
		}
		v.Roots = b.Anchors
		if len(b.CRLs) > 0 {
			v.Revocation = &trust.CRLs{Issuers: b.Anchors, Lists: b.CRLs}
		}
	}
	rep, _ := v.VerifySealed(ctx, string(input), name)
	return writeReport(rep, f.asJSON, stdout, stderr)
}

func writeReport(rep *verify.Report, asJSON bool, stdout, stderr io.Writer) int {
	var err error
	if asJSON {
		err = rep.WriteJSON(stdout)
	} else {
		err = rep.WriteText(stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "gxctl verify: write report: %v\n", err)
		return verify.ExitUsage
	}
	return rep.Verdict.ExitCode()
}

func dialFor(ctx context.Context, f *verifyFlags) (*sdk.Client, error) {
	global.identity, global.hub, global.caFile, global.passwordFile = f.identity, f.hub, f.ca, f.pwFile
	return dial(ctx, true)
}

func readRequest(name string, f *verifyFlags) (*certsv1.VerifyRequest, error) {
	content, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	req := &certsv1.VerifyRequest{Name: filepath.Base(name), Content: content, RequireChain: f.requireChain}
	if f.data != "" {
		if req.Data, err = os.ReadFile(f.data); err != nil {
			return nil, fmt.Errorf("--data: %w", err)
		}
	}
	if f.trust != "" {
		b, err := trust.Load(f.trust)
		if err != nil {
			return nil, fmt.Errorf("--trust: %w", err)
		}
		req.TrustRootsPem = string(pki.EncodeCertsPEM(b.Anchors...))
	}
	return req, nil
}

// verifyOnline verifies files at the hub; batch uses VerifyBatch.
func verifyOnline(ctx context.Context, f *verifyFlags, files []string, stdout, stderr io.Writer, batch bool) int {
	if ctx == nil {
		ctx = context.Background()
	}
	c, err := dialFor(ctx, f)
	if err != nil {
		fmt.Fprintf(stderr, "gxctl verify: %v\n", err)
		return verify.ExitUsage
	}
	defer c.Close()
	var reqs []*certsv1.VerifyRequest
	for _, name := range files {
		req, err := readRequest(name, f)
		if err != nil {
			fmt.Fprintf(stderr, "gxctl verify: %s: %v\n", name, err)
			return verify.ExitUsage
		}
		reqs = append(reqs, req)
	}
	cctx, cancel := context.WithTimeout(ctx, global.timeout)
	defer cancel()
	if !batch {
		resp, err := c.Verify.Verify(cctx, reqs[0])
		if err != nil {
			fmt.Fprintf(stderr, "gxctl verify: %v\n", callErr(err))
			return verify.ExitUsage
		}
		return writeReport(convert.ReportFromProto(resp.GetReport()), f.asJSON, stdout, stderr)
	}
	codes := []int{verify.ExitValid}
	counts := map[string]int{}
	bar := newProgress(stderr, "verified", "files", len(reqs))
	defer bar.done()
	for start := 0; start < len(reqs); start += certsserver.MaxVerifyBatch {
		end := min(start+certsserver.MaxVerifyBatch, len(reqs))
		resp, err := c.Verify.VerifyBatch(cctx, &certsv1.VerifyBatchRequest{Items: reqs[start:end]})
		if err != nil {
			fmt.Fprintf(stderr, "gxctl verify-batch: %v\n", callErr(err))
			return verify.ExitUsage
		}
		bar.clear()
		for _, r := range resp.GetResults() {
			if r.GetReport() == nil {
				fmt.Fprintf(stderr, "%s: %s: %s\n", r.GetName(), r.GetErrorReason(), r.GetErrorMessage())
				codes = append(codes, verify.ExitUsage)
				counts["unreadable"]++
				continue
			}
			rep := convert.ReportFromProto(r.GetReport())
			codes = append(codes, rep.Verdict.ExitCode())
			counts[string(rep.Verdict)]++
			if f.asJSON {
				_ = rep.WriteJSON(stdout)
				continue
			}
			fmt.Fprintf(stdout, "%-11s %s %s %s\n", rep.Verdict, r.GetName(), rep.Kind, batchReason(rep))
		}
		bar.set(end, "")
	}
	if !f.asJSON {
		fmt.Fprintf(stdout, "%d file(s): %d VALID, %d INTACT, %d INVALID, %d UNSUPPORTED, %d unreadable\n", len(reqs),
			counts[string(verify.Valid)], counts[string(verify.Intact)], counts[string(verify.Invalid)], counts[string(verify.Unsupported)], counts["unreadable"])
	}
	return verify.WorstExit(codes...)
}

// batchReason is the first reason behind a verdict: a failed check, else one that cannot
// be checked, else one that could not be established.
func batchReason(rep *verify.Report) string {
	for _, set := range [][]verify.Check{rep.Failed(), rep.Unsupporteds(), rep.Unknowns()} {
		if len(set) > 0 {
			return set[0].Name + ": " + set[0].Reason
		}
	}
	return ""
}

func verifyBatchCmd() *cobra.Command {
	var f verifyFlags
	cmd := &cobra.Command{
		Use:   "verify-batch FILE...",
		Short: "Verify several files at the hub (exit: the worst of 1 INVALID, 2 unreadable, 4 UNSUPPORTED, 3 INTACT, 0 VALID)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f.identity, f.hub, f.ca, f.pwFile, f.asJSON = global.identity, global.hub, global.caFile, global.passwordFile, global.json
			if code := verifyOnline(cmd.Context(), &f, args, cmd.OutOrStdout(), cmd.ErrOrStderr(), true); code != 0 {
				return &exitError{code: code, err: errors.New("")}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&f.trust, "trust", "", "trust anchors (a PEM/DER file or a directory) replacing the hub's trust store")
	cmd.Flags().BoolVar(&f.requireChain, "require-chain", false, "an untrusted chain fails instead of unknown")
	return cmd
}

func printECerts(w io.Writer, es ...*certsv1.ECert) error {
	if global.json {
		for _, e := range es {
			if err := printProto(w, e); err != nil {
				return err
			}
		}
		return nil
	}
	var t table
	t.row("IDENTIFIER", "NAME", "HOLDER", "ISSUER", "STATUS", "SINCE", "REASON")
	for _, e := range es {
		since := ""
		if e.GetStatusSince() != nil {
			since = showTS(e.GetStatusSince())
		}
		t.row(e.GetIdentifier(), e.GetName(), e.GetHolderCode(), e.GetIssuerCode(), e.GetStatus(), since, e.GetStatusReason())
	}
	return t.write(w)
}

func ecertCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "ecert", Short: "E-certificates (电子证照): types, issue, status, presentations (亮证)"}
	cmd.AddCommand(ecertTypesCmd(), ecertIssueCmd(), ecertUpdateCmd(),
		ecertStatusChangeCmd("suspend", certsv1.StatusAction_STATUS_ACTION_SUSPEND, "Suspend a licence (issuer)"),
		ecertStatusChangeCmd("resume", certsv1.StatusAction_STATUS_ACTION_RESUME, "Resume a suspended licence (issuer)"),
		ecertStatusChangeCmd("revoke", certsv1.StatusAction_STATUS_ACTION_REVOKE, "Revoke a licence, final (issuer)"),
		ecertStatusChangeCmd("annul", certsv1.StatusAction_STATUS_ACTION_ANNUL, "Annul a licence, final (issuer)"),
		ecertStatusCmd(), ecertListCmd(), ecertPresentCmd(), ecertVerifyPresentationCmd(), ecertRegisterTypeCmd())
	return cmd
}

// ecertTypesCmd is `gxctl ecert types`: the licence types of the hub's catalogue.
func ecertTypesCmd() *cobra.Command {
	types := &cobra.Command{Use: "types", Short: "List licence types", Args: cobra.NoArgs,
		RunE: withHub(func(ctx context.Context, c *sdk.Client, cmd *cobra.Command, _ []string) error {
			resp, err := c.ECert.ListCertTypes(ctx, &certsv1.ListCertTypesRequest{})
			if err != nil {
				return callErr(err)
			}
			if global.json {
				return printProto(cmd.OutOrStdout(), resp)
			}
			var t table
			t.row("CODE", "NAME", "HOLDER TYPE", "DEFINER", "REQUIRED ITEMS")
			for _, ty := range resp.GetTypes() {
				var req []string
				for _, it := range ty.GetItems() {
					if it.GetRequired() {
						req = append(req, it.GetKey())
					}
				}
				t.row(ty.GetCode(), ty.GetName(), ty.GetHolderType(), ty.GetDefinerName(), strings.Join(req, ","))
			}
			return t.write(cmd.OutOrStdout())
		})}
	return types
}

// ecertIssueCmd is `gxctl ecert issue`: seal a licence and register it (issuer).
func ecertIssueCmd() *cobra.Command {
	var typeCode, serial, holderCode, holderName, number, validFrom, validUntil, area, out, ofdOut, ofdSeal string
	var items []string
	issue := &cobra.Command{Use: "issue", Short: "Seal a licence with your department's key and register it (issuer role)", Args: cobra.NoArgs,
		RunE: withHub(func(ctx context.Context, c *sdk.Client, cmd *cobra.Command, _ []string) error {
			me, err := c.Admin.WhoAmI(ctx, &adminv1.WhoAmIRequest{})
			if err != nil {
				return callErr(err)
			}
			cat, err := c.Catalogue(ctx)
			if err != nil {
				return callErr(err)
			}
			ty, ok := cat.Lookup(typeCode)
			if !ok {
				return exitf(2, "licence type %q is not in the hub's catalogue (gxctl ecert types)", typeCode)
			}
			id, err := ecert.NewIdentifier(ty.Code, me.GetDepartment().GetCode(), serial, 1)
			if err != nil {
				return exitf(2, "%v", err)
			}
			m, err := ecert.NewMetadata(ty, id)
			if err != nil {
				return exitf(2, "%v", err)
			}
			today := ecert.DateOf(time.Now().In(ecert.ChinaTime))
			m.Number, m.IssuerName, m.IssueDate, m.HolderName, m.HolderCode, m.ValidFrom, m.AreaCode = number, me.GetDepartment().GetName(), today, holderName, holderCode, today, area
			if err := applyLicenceFlags(m, validFrom, validUntil, items); err != nil {
				return err
			}
			if (ofdOut == "") != (ofdSeal == "") {
				return exitf(2, "--ofd and --seal go together: the licence file is sealed with your seal")
			}
			e, err := c.IssueLicence(ctx, m, "")
			if err != nil {
				return licenceErr(err)
			}
			if err := finishIssue(cmd.OutOrStdout(), e, out); err != nil {
				return err
			}
			if ofdOut != "" {
				return licenceOFD(ctx, c, m, ofdSeal, ofdOut, cmd.OutOrStdout())
			}
			return nil
		})}
	issue.Flags().StringVar(&typeCode, "type", "", "licence type code (gxctl ecert types)")
	issue.Flags().StringVar(&serial, "serial", "", "serial number within your department (digits/letters)")
	issue.Flags().StringVar(&holderCode, "holder-code", "", "holder's USCC or citizen ID number")
	issue.Flags().StringVar(&holderName, "holder-name", "", "holder's name")
	issue.Flags().StringVar(&number, "number", "", "licence number printed on the licence (证照编号)")
	issue.Flags().StringVar(&validFrom, "valid-from", "", "first valid day YYYY-MM-DD (default today)")
	issue.Flags().StringVar(&validUntil, "valid-until", "", "last valid day YYYY-MM-DD (default: long-term)")
	issue.Flags().StringVar(&area, "area", "", "6-digit area code")
	issue.Flags().StringArrayVar(&items, "item", nil, "data item key=value (repeat)")
	issue.Flags().StringVar(&out, "out", "", "write the sealed licence (JWS) to this file")
	issue.Flags().StringVar(&ofdOut, "ofd", "", "also write the licence as a sealed GB/T 36905 OFD file (needs --seal)")
	issue.Flags().StringVar(&ofdSeal, "seal", "", "your seal for the OFD file: a .esl file or the esID of one of your seals")
	for _, f := range []string{"type", "serial", "holder-code", "holder-name", "number"} {
		_ = issue.MarkFlagRequired(f)
	}
	return issue
}

// ecertUpdateCmd is `gxctl ecert update`: the next version of a licence.
func ecertUpdateCmd() *cobra.Command {
	var uItems []string
	var uUntil, uOut string
	update := &cobra.Command{Use: "update IDENTIFIER", Short: "Register the next version of a licence with changed items (issuer)", Args: cobra.ExactArgs(1),
		RunE: withHub(func(ctx context.Context, c *sdk.Client, cmd *cobra.Command, args []string) error {
			old, err := c.ECert.GetECertStatus(ctx, &certsv1.GetECertStatusRequest{Identifier: args[0]})
			if err != nil {
				return callErr(err)
			}
			var m ecert.Metadata
			if err := json.Unmarshal([]byte(old.GetMetadataJson()), &m); err != nil {
				return exitf(1, "stored metadata of %s: %v", args[0], err)
			}
			id, err := ecert.ParseIdentifier(m.Identifier)
			if err != nil {
				return exitf(1, "%v", err)
			}
			next, err := id.NextVersion()
			if err != nil {
				return exitf(1, "%v", err)
			}
			m.Identifier, m.Version = next.String(), fmt.Sprintf("%03d", next.Version)
			m.IssueDate = ecert.DateOf(time.Now().In(ecert.ChinaTime))
			if err := applyLicenceFlags(&m, "", uUntil, uItems); err != nil {
				return err
			}
			e, err := c.IssueLicence(ctx, &m, args[0])
			if err != nil {
				return licenceErr(err)
			}
			return finishIssue(cmd.OutOrStdout(), e, uOut)
		})}
	update.Flags().StringArrayVar(&uItems, "item", nil, "changed data item key=value (repeat)")
	update.Flags().StringVar(&uUntil, "valid-until", "", "new last valid day YYYY-MM-DD")
	update.Flags().StringVar(&uOut, "out", "", "write the sealed licence (JWS) to this file")
	return update
}

// ecertStatusChangeCmd is `gxctl ecert suspend|resume|revoke|annul` (issuer).
func ecertStatusChangeCmd(use string, action certsv1.StatusAction, short string) *cobra.Command {
	var reason string
	c := &cobra.Command{Use: use + " IDENTIFIER", Short: short, Args: cobra.ExactArgs(1),
		RunE: withHub(func(ctx context.Context, c *sdk.Client, cmd *cobra.Command, args []string) error {
			resp, err := c.ECert.ChangeECertStatus(ctx, &certsv1.ChangeECertStatusRequest{Identifier: args[0], Action: action, Reason: reason})
			if err != nil {
				return callErr(err)
			}
			return printECerts(cmd.OutOrStdout(), resp.GetEcert())
		})}
	c.Flags().StringVar(&reason, "reason", "", "reason, recorded and audited")
	return c
}

// ecertStatusCmd is `gxctl ecert status`: a licence and its status, now or at a time.
func ecertStatusCmd() *cobra.Command {
	var at string
	statusCmd := &cobra.Command{Use: "status IDENTIFIER", Short: "Show a licence and its status (now or --at)", Args: cobra.ExactArgs(1),
		RunE: withHub(func(ctx context.Context, c *sdk.Client, cmd *cobra.Command, args []string) error {
			req := &certsv1.GetECertStatusRequest{Identifier: args[0]}
			if at != "" {
				t, err := time.Parse(time.RFC3339, at)
				if err != nil {
					return exitf(2, "--at must be RFC 3339: %v", err)
				}
				req.At = timestamppb.New(t)
			}
			e, err := c.ECert.GetECertStatus(ctx, req)
			if err != nil {
				return callErr(err)
			}
			return printECerts(cmd.OutOrStdout(), e)
		})}
	statusCmd.Flags().StringVar(&at, "at", "", "status at this time (RFC 3339)")
	return statusCmd
}

// ecertListCmd is `gxctl ecert list`: a holder's licences.
func ecertListCmd() *cobra.Command {
	var holder string
	list := &cobra.Command{Use: "list", Short: "List a holder's licences", Args: cobra.NoArgs,
		RunE: withHub(func(ctx context.Context, c *sdk.Client, cmd *cobra.Command, _ []string) error {
			if holder == "" {
				me, err := c.Admin.WhoAmI(ctx, &adminv1.WhoAmIRequest{})
				if err != nil {
					return callErr(err)
				}
				holder = me.GetDepartment().GetCode()
			}
			resp, err := c.ECert.ListECerts(ctx, &certsv1.ListECertsRequest{HolderCode: holder})
			if err != nil {
				return callErr(err)
			}
			return printECerts(cmd.OutOrStdout(), resp.GetEcerts()...)
		})}
	list.Flags().StringVar(&holder, "holder", "", "holder code (default: your department)")
	return list
}

// ecertPresentCmd is `gxctl ecert present`: a presentation token for one purpose (亮证; holder).
func ecertPresentCmd() *cobra.Command {
	var to, purpose, matter, pOut string
	var lifetime time.Duration
	present := &cobra.Command{Use: "present IDENTIFIER", Short: "Present your licence to an approver for one purpose (亮证; holder)", Args: cobra.ExactArgs(1),
		RunE: withHub(func(ctx context.Context, c *sdk.Client, cmd *cobra.Command, args []string) error {
			resp, err := c.ECert.PresentECert(ctx, &certsv1.PresentECertRequest{Identifier: args[0], Audience: to, Purpose: purpose, MatterCode: matter, LifetimeSeconds: int64(lifetime.Seconds())})
			if err != nil {
				return callErr(err)
			}
			if pOut != "" {
				if err := os.WriteFile(pOut, []byte(resp.GetToken()+"\n"), 0o600); err != nil {
					return exitf(1, "write %s: %v", pOut, err)
				}
			}
			if global.json {
				return printProto(cmd.OutOrStdout(), resp)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "presentation for %s, purpose %q, expires %s\n%s\n", to, purpose, showTS(resp.GetExpiresAt()), resp.GetToken())
			return nil
		})}
	present.Flags().StringVar(&to, "to", "", "approving department's USCC")
	present.Flags().StringVar(&purpose, "purpose", "", "reason for use (用证事由)")
	present.Flags().StringVar(&matter, "matter", "", "matter code (事项编码)")
	present.Flags().DurationVar(&lifetime, "lifetime", 10*time.Minute, "validity (at most 24h)")
	present.Flags().StringVar(&pOut, "out", "", "write the token to this file")
	_ = present.MarkFlagRequired("to")
	_ = present.MarkFlagRequired("purpose")
	return present
}

// ecertVerifyPresentationCmd is `gxctl ecert verify-presentation` (approver).
func ecertVerifyPresentationCmd() *cobra.Command {
	var expect string
	verifyPresentation := &cobra.Command{Use: "verify-presentation TOKENFILE", Short: "Verify a presentation token as its approver (exit 0 VALID, 1 INVALID, 3 INTACT)", Args: cobra.ExactArgs(1),
		RunE: withHub(func(ctx context.Context, c *sdk.Client, cmd *cobra.Command, args []string) error {
			tok, err := os.ReadFile(args[0])
			if err != nil {
				return exitf(2, "%v", err)
			}
			resp, err := c.ECert.VerifyPresentation(ctx, &certsv1.VerifyPresentationRequest{Token: strings.TrimSpace(string(tok)), ExpectedPurpose: expect})
			if err != nil {
				return callErr(err)
			}
			if code := writeReport(convert.ReportFromProto(resp.GetReport()), global.json, cmd.OutOrStdout(), cmd.ErrOrStderr()); code != 0 {
				return &exitError{code: code, err: errors.New("")}
			}
			return nil
		})}
	verifyPresentation.Flags().StringVar(&expect, "purpose", "", "refuse a token presented for another purpose")
	return verifyPresentation
}

func applyLicenceFlags(m *ecert.Metadata, from, until string, items []string) error {
	if from != "" {
		d, err := ecert.ParseDate(from)
		if err != nil {
			return exitf(2, "--valid-from: %v", err)
		}
		m.ValidFrom = d
	}
	if until != "" {
		d, err := ecert.ParseDate(until)
		if err != nil {
			return exitf(2, "--valid-until: %v", err)
		}
		m.ValidUntil = d
	}
	if m.Items == nil {
		m.Items = map[string]string{}
	}
	for _, kv := range items {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return exitf(2, "--item %q must be key=value", kv)
		}
		m.Items[k] = v
	}
	return nil
}

func licenceErr(err error) error {
	if sdk.Reason(err) != "" {
		return callErr(err)
	}
	return exitf(2, "%v", err)
}

func finishIssue(w io.Writer, e *certsv1.ECert, out string) error {
	if out != "" {
		if err := os.WriteFile(out, []byte(e.GetSealed()+"\n"), 0o644); err != nil {
			return exitf(1, "write %s: %v", out, err)
		}
	}
	return printECerts(w, e)
}

func sealCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "seal", Short: "Electronic seals (电子印章) made by the hub"}
	run := withHub
	printSeals := func(w io.Writer, ss ...*certsv1.Seal) error {
		if global.json {
			for _, s := range ss {
				if err := printProto(w, s); err != nil {
					return err
				}
			}
			return nil
		}
		var t table
		t.row("ESID", "NAME", "DEPARTMENT", "STATUS", "MADE", "VALID TO", "REASON")
		for _, s := range ss {
			t.row(s.GetEsid(), s.GetName(), s.GetDepartmentCode(), s.GetStatus(), showTS(s.GetMadeAt()),
				showTS(s.GetValidTo()), s.GetRevokeReason())
		}
		return t.write(w)
	}
	var dept, name, picture, out string
	var typ, days int32
	mk := &cobra.Command{Use: "make", Short: "Make a V4 seal for a department (issuer for itself, coordinator for any)", Args: cobra.NoArgs,
		RunE: run(func(ctx context.Context, c *sdk.Client, cmd *cobra.Command, _ []string) error {
			if dept == "" {
				me, err := c.Admin.WhoAmI(ctx, &adminv1.WhoAmIRequest{})
				if err != nil {
					return callErr(err)
				}
				dept = me.GetDepartment().GetCode()
			}
			req := &certsv1.MakeSealRequest{DepartmentCode: dept, Name: name, Type: typ, ValidDays: days}
			if picture != "" {
				b, err := os.ReadFile(picture)
				if err != nil {
					return exitf(2, "--picture: %v", err)
				}
				req.Picture, req.PictureType = b, strings.TrimPrefix(strings.ToLower(filepath.Ext(picture)), ".")
			}
			resp, err := c.Seal.MakeSeal(ctx, req)
			if err != nil {
				return callErr(err)
			}
			if out != "" {
				if err := os.WriteFile(out, resp.GetSeal().GetDer(), 0o644); err != nil {
					return exitf(1, "write %s: %v", out, err)
				}
			}
			return printSeals(cmd.OutOrStdout(), resp.GetSeal())
		})}
	mk.Flags().StringVar(&dept, "department", "", "holder department's USCC (default: yours)")
	mk.Flags().StringVar(&name, "name", "", "seal name, e.g. 某某局电子证照专用章")
	mk.Flags().Int32Var(&typ, "type", 2, "seal type: 1 official, 2 special-purpose")
	mk.Flags().Int32Var(&days, "days", 365, "validity in days")
	mk.Flags().StringVar(&picture, "picture", "", "seal image file (png, jpg); default: a plain red ring")
	mk.Flags().StringVar(&out, "out", "", "write the seal (.esl DER) to this file")
	_ = mk.MarkFlagRequired("name")

	var reason string
	revoke := &cobra.Command{Use: "revoke ESID", Short: "Revoke a seal", Args: cobra.ExactArgs(1),
		RunE: run(func(ctx context.Context, c *sdk.Client, cmd *cobra.Command, args []string) error {
			resp, err := c.Seal.RevokeSeal(ctx, &certsv1.RevokeSealRequest{Esid: args[0], Reason: reason})
			if err != nil {
				return callErr(err)
			}
			return printSeals(cmd.OutOrStdout(), resp.GetSeal())
		})}
	revoke.Flags().StringVar(&reason, "reason", "", "reason, recorded and audited")

	var ldept string
	list := &cobra.Command{Use: "list", Short: "List a department's seals", Args: cobra.NoArgs,
		RunE: run(func(ctx context.Context, c *sdk.Client, cmd *cobra.Command, _ []string) error {
			if ldept == "" {
				me, err := c.Admin.WhoAmI(ctx, &adminv1.WhoAmIRequest{})
				if err != nil {
					return callErr(err)
				}
				ldept = me.GetDepartment().GetCode()
			}
			resp, err := c.Seal.ListSeals(ctx, &certsv1.ListSealsRequest{DepartmentCode: ldept})
			if err != nil {
				return callErr(err)
			}
			return printSeals(cmd.OutOrStdout(), resp.GetSeals()...)
		})}
	list.Flags().StringVar(&ldept, "department", "", "department USCC (default: yours)")
	cmd.AddCommand(mk, revoke, list, sealSignCmd(), sealedDocsCmd())
	return cmd
}
