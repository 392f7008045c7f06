package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gxhub/gxhub/certs/ecert"
	"github.com/gxhub/gxhub/certs/trust"
	"github.com/gxhub/gxhub/sdk"
	adminv1 "github.com/gxhub/gxhub/sdk/api/admin/v1"
	certsv1 "github.com/gxhub/gxhub/sdk/api/certs/v1"
)

func init() {
	root.AddCommand(trustStoreCmd())
}

// withHub runs fn with a client for the --identity department.
func withHub(fn func(ctx context.Context, c *sdk.Client, cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		c, ctx, done, err := connect(cmd, true)
		if err != nil {
			return err
		}
		defer done()
		return fn(ctx, c, cmd, args)
	}
}

// readSeal reads a seal from a .esl file, or finds the hub-made seal with that esID among
// the caller's seals.
func readSeal(ctx context.Context, c *sdk.Client, arg string) ([]byte, error) {
	if b, err := os.ReadFile(arg); err == nil {
		return b, nil
	} else if strings.ContainsAny(arg, "/.") {
		return nil, exitf(2, "--seal: %v", err)
	}
	me, err := c.Admin.WhoAmI(ctx, &adminv1.WhoAmIRequest{})
	if err != nil {
		return nil, callErr(err)
	}
	list, err := c.Seal.ListSeals(ctx, &certsv1.ListSealsRequest{DepartmentCode: me.GetDepartment().GetCode()})
	if err != nil {
		return nil, callErr(err)
	}
	for _, s := range list.GetSeals() {
		if s.GetEsid() == arg {
			return s.GetDer(), nil
		}
	}
	return nil, exitf(2, "--seal %s is neither a .esl file nor the esID of one of your seals (gxctl seal list)", arg)
}

// sealSignCmd is "gxctl seal sign": seal an OFD with the department's key and register it.
func sealSignCmd() *cobra.Command {
	var sealArg, in, out string
	var page int
	var x, y float64
	var timestamp bool
	cmd := &cobra.Command{
		Use:   "sign --seal SEAL.esl|ESID --in DOC.ofd --out SIGNED.ofd [--page N --x MM --y MM] [--timestamp]",
		Short: "Seal an OFD document with your seal and key, and register it at the hub",
		Long: `Adds a GB/T 38540 V4 seal signature to the OFD: references to every file (an earlier
seal stays valid and is covered by this one), the seal picture stamped on page N at (x, y)
mm (default: bottom right of page 1), SM2 with your department's key, which never leaves
this machine. --timestamp asks the hub's TSA for an RFC 3161 token. The hub then verifies
the sealed document (it must be VALID with its trust store, the seal active and yours),
keeps it and audits it; the file is written to --out either way.`,
		Args: cobra.NoArgs,
		RunE: withHub(func(ctx context.Context, c *sdk.Client, cmd *cobra.Command, _ []string) error {
			seal, err := readSeal(ctx, c, sealArg)
			if err != nil {
				return err
			}
			doc, err := os.ReadFile(in)
			if err != nil {
				return exitf(2, "--in: %v", err)
			}
			signed, reg, err := c.SealDocument(ctx, doc, seal, sdk.SealOptions{Page: page, X: x, Y: y, Timestamp: timestamp, Name: filepath.Base(out)})
			if signed != nil {
				if werr := os.WriteFile(out, signed, 0o644); werr != nil {
					return exitf(1, "write %s: %v", out, werr)
				}
			}
			if err != nil {
				if sdk.Reason(err) != "" {
					return callErr(err)
				}
				return exitf(2, "%v", err)
			}
			if global.json {
				return printProto(cmd.OutOrStdout(), reg)
			}
			d := reg.GetDocument()
			fmt.Fprintf(cmd.OutOrStdout(), "%s sealed with %s (%d signature(s)), registered as sm3 %s: %s\n", out, d.GetEsid(), d.GetSignatures(), d.GetSm3(), reg.GetReport().GetVerdict())
			return nil
		}),
	}
	cmd.Flags().StringVar(&sealArg, "seal", "", "the seal: a .esl file or the esID of one of your hub-made seals")
	cmd.Flags().StringVar(&in, "in", "", "the OFD document to seal")
	cmd.Flags().StringVar(&out, "out", "", "where to write the sealed OFD")
	cmd.Flags().IntVar(&page, "page", 1, "page to stamp the seal picture on (1-based)")
	cmd.Flags().Float64Var(&x, "x", -1, "left edge of the seal picture in mm (default: bottom right)")
	cmd.Flags().Float64Var(&y, "y", -1, "top edge of the seal picture in mm (default: bottom right)")
	cmd.Flags().BoolVar(&timestamp, "timestamp", false, "add an RFC 3161 timestamp from the hub's TSA")
	for _, f := range []string{"seal", "in", "out"} {
		_ = cmd.MarkFlagRequired(f)
	}
	return cmd
}

// licenceOFD writes a registered licence as a sealed GB/T 36905 OFD file (gxctl ecert
// issue --ofd).
func licenceOFD(ctx context.Context, c *sdk.Client, m *ecert.Metadata, sealArg, out string, w io.Writer) error {
	seal, err := readSeal(ctx, c, sealArg)
	if err != nil {
		return err
	}
	file, reg, err := c.LicenceOFD(ctx, m, seal, sdk.SealOptions{Name: filepath.Base(out)})
	if file != nil {
		if werr := os.WriteFile(out, file, 0o644); werr != nil {
			return exitf(1, "write %s: %v", out, werr)
		}
	}
	if err != nil {
		return licenceErr(err)
	}
	fmt.Fprintf(w, "licence file %s sealed with %s, registered as sm3 %s: %s\n", out, reg.GetDocument().GetEsid(), reg.GetDocument().GetSm3(), reg.GetReport().GetVerdict())
	return nil
}

func printTrustStore(w io.Writer, s *certsv1.TrustStore) error {
	if global.json {
		return printProto(w, s)
	}
	fmt.Fprintf(w, "trust bundle version %d\n\n", s.GetVersion())
	var t table
	t.row("SOURCE", "SUBJECT", "SM3", "VALID TO", "CA")
	for _, a := range s.GetAnchors() {
		t.row(a.GetSource(), a.GetSubject(), a.GetSm3()[:16], a.GetNotAfter().AsTime().UTC().Format(time.DateOnly), strconv.FormatBool(a.GetCa()))
	}
	if err := t.write(w); err != nil {
		return err
	}
	if len(s.GetCrlSources()) == 0 {
		_, err := fmt.Fprintln(w, "\nno CRL sources")
		return err
	}
	fmt.Fprintln(w)
	var cs table
	cs.row("ID", "LOCATION", "ISSUER", "THIS UPDATE", "NEXT UPDATE", "REVOKED", "LAST ERROR")
	for _, c := range s.GetCrlSources() {
		when := func(ts interface{ AsTime() time.Time }) string {
			if t := ts.AsTime(); t.Unix() > 0 {
				return t.UTC().Format(time.RFC3339)
			}
			return "-"
		}
		cs.row(strconv.FormatInt(c.GetId(), 10), c.GetLocation(), c.GetIssuer(), when(c.GetThisUpdate()), when(c.GetNextUpdate()), strconv.Itoa(int(c.GetRevoked())), c.GetLastError())
	}
	return cs.write(w)
}

// trustStoreCmd is "gxctl trust-store": TrustStoreService.
func trustStoreCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "trust-store", Short: "The hub verifier's trust anchors and CRL sources (changes: coordinator)"}
	show := &cobra.Command{Use: "show", Short: "Show the trust anchors and CRL sources in use", Args: cobra.NoArgs,
		RunE: withHub(func(ctx context.Context, c *sdk.Client, cmd *cobra.Command, _ []string) error {
			s, err := c.TrustStore.GetTrustStore(ctx, &certsv1.GetTrustStoreRequest{})
			if err != nil {
				return callErr(err)
			}
			return printTrustStore(cmd.OutOrStdout(), s)
		})}
	var note string
	var expected int64 = -1
	load := &cobra.Command{Use: "load BUNDLE.pem|DIR", Short: "Load the trust bundle (national and provincial e-seal and e-licence CAs) as the next version", Args: cobra.ExactArgs(1),
		RunE: withHub(func(ctx context.Context, c *sdk.Client, cmd *cobra.Command, args []string) error {
			b, err := trust.Load(args[0])
			if err != nil {
				return exitf(2, "%v", err)
			}
			if err := trust.CheckAnchors(b); err != nil {
				return exitf(2, "%s: %v", args[0], err)
			}
			if expected < 0 {
				cur, err := c.TrustStore.GetTrustStore(ctx, &certsv1.GetTrustStoreRequest{})
				if err != nil {
					return callErr(err)
				}
				expected = cur.GetVersion()
			}
			resp, err := c.TrustStore.PutTrustBundle(ctx, &certsv1.PutTrustBundleRequest{BundlePem: string(b.PEM()), Note: note, ExpectedVersion: expected})
			if err != nil {
				return callErr(err)
			}
			return printTrustStore(cmd.OutOrStdout(), resp.GetStore())
		})}
	load.Flags().StringVar(&note, "note", "", "why (audited), e.g. the authority's notice")
	load.Flags().Int64Var(&expected, "expect-version", -1, "the version you load on top of (default: the current one)")
	versions := &cobra.Command{Use: "versions", Short: "List every version of the trust bundle", Args: cobra.NoArgs,
		RunE: withHub(func(ctx context.Context, c *sdk.Client, cmd *cobra.Command, _ []string) error {
			resp, err := c.TrustStore.ListTrustBundleVersions(ctx, &certsv1.ListTrustBundleVersionsRequest{})
			if err != nil {
				return callErr(err)
			}
			if global.json {
				return printProto(cmd.OutOrStdout(), resp)
			}
			var t table
			t.row("VERSION", "LOADED", "BY", "ANCHORS", "SM3", "NOTE")
			for _, v := range resp.GetVersions() {
				t.row(strconv.FormatInt(v.GetVersion(), 10), v.GetLoadedAt().AsTime().UTC().Format(time.RFC3339), v.GetLoadedBy(), strconv.Itoa(len(v.GetAnchors())), v.GetSm3()[:16], v.GetNote())
			}
			return t.write(cmd.OutOrStdout())
		})}
	var crlNote string
	crlAdd := &cobra.Command{Use: "crl-add URL|PATH", Short: "Add a CRL source (http(s) URL or absolute path on the hub); fetched at once and on schedule", Args: cobra.ExactArgs(1),
		RunE: withHub(func(ctx context.Context, c *sdk.Client, cmd *cobra.Command, args []string) error {
			s, err := c.TrustStore.AddCRLSource(ctx, &certsv1.AddCRLSourceRequest{Location: args[0], Note: crlNote})
			if err != nil {
				return callErr(err)
			}
			if global.json {
				return printProto(cmd.OutOrStdout(), s)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "CRL source %d: %s", s.GetId(), s.GetLocation())
			if s.GetLastError() != "" {
				fmt.Fprintf(cmd.OutOrStdout(), " (first fetch failed: %s)", s.GetLastError())
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), " (%s, %d revoked)", s.GetIssuer(), s.GetRevoked())
			}
			fmt.Fprintln(cmd.OutOrStdout())
			return nil
		})}
	crlAdd.Flags().StringVar(&crlNote, "note", "", "why (audited)")
	var reason string
	crlRemove := &cobra.Command{Use: "crl-remove ID", Short: "Remove a CRL source", Args: cobra.ExactArgs(1),
		RunE: withHub(func(ctx context.Context, c *sdk.Client, cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil {
				return exitf(2, "ID must be a number (gxctl trust-store show)")
			}
			if _, err := c.TrustStore.RemoveCRLSource(ctx, &certsv1.RemoveCRLSourceRequest{Id: id, Reason: reason}); err != nil {
				return callErr(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "CRL source %d removed\n", id)
			return nil
		})}
	crlRemove.Flags().StringVar(&reason, "reason", "", "why (audited)")
	refresh := &cobra.Command{Use: "refresh", Short: "Fetch every CRL source now", Args: cobra.NoArgs,
		RunE: withHub(func(ctx context.Context, c *sdk.Client, cmd *cobra.Command, _ []string) error {
			resp, err := c.TrustStore.RefreshCRLs(ctx, &certsv1.RefreshCRLsRequest{})
			if err != nil {
				return callErr(err)
			}
			return printTrustStore(cmd.OutOrStdout(), resp.GetStore())
		})}
	cmd.AddCommand(show, load, versions, crlAdd, crlRemove, refresh)
	return cmd
}

// sealedDocsCmd is "gxctl seal documents": the documents a department registered, or one
// document's bytes.
func sealedDocsCmd() *cobra.Command {
	var dept, get, out string
	cmd := &cobra.Command{Use: "documents [--department CODE] [--get SM3 --out FILE]", Short: "List a department's registered sealed documents, or fetch one", Args: cobra.NoArgs,
		RunE: withHub(func(ctx context.Context, c *sdk.Client, cmd *cobra.Command, _ []string) error {
			if get != "" {
				d, err := c.Seal.GetSealedDocument(ctx, &certsv1.GetSealedDocumentRequest{Sm3: get})
				if err != nil {
					return callErr(err)
				}
				if out == "" {
					return exitf(2, "--get needs --out FILE")
				}
				if err := os.WriteFile(out, d.GetContent(), 0o644); err != nil {
					return exitf(1, "write %s: %v", out, err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s (%d bytes) written to %s\n", d.GetName(), len(d.GetContent()), out)
				return nil
			}
			if dept == "" {
				me, err := c.Admin.WhoAmI(ctx, &adminv1.WhoAmIRequest{})
				if err != nil {
					return callErr(err)
				}
				dept = me.GetDepartment().GetCode()
			}
			resp, err := c.Seal.ListSealedDocuments(ctx, &certsv1.ListSealedDocumentsRequest{DepartmentCode: dept})
			if err != nil {
				return callErr(err)
			}
			if global.json {
				return printProto(cmd.OutOrStdout(), resp)
			}
			var t table
			t.row("SM3", "NAME", "ESID", "SIGNATURES", "SIGNED", "REGISTERED", "LICENCE")
			for _, d := range resp.GetDocuments() {
				t.row(d.GetSm3(), d.GetName(), d.GetEsid(), strconv.Itoa(int(d.GetSignatures())), d.GetSignedAt().AsTime().UTC().Format(time.RFC3339),
					d.GetRegisteredAt().AsTime().UTC().Format(time.RFC3339), d.GetEcertIdentifier())
			}
			return t.write(cmd.OutOrStdout())
		})}
	cmd.Flags().StringVar(&dept, "department", "", "department USCC (default: yours)")
	cmd.Flags().StringVar(&get, "get", "", "fetch the document with this SM3")
	cmd.Flags().StringVar(&out, "out", "", "where to write the fetched document")
	return cmd
}
