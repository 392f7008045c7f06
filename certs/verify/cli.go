package verify

import (
	"context"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/emmansun/gmsm/smx509"

	"github.com/gxhub/gxhub/certs/cms"
	"github.com/gxhub/gxhub/certs/trust"
)

const usage = `usage: verify FILE [--data FILE] [--trust DIR|FILE] [--intermediates PEM] [--require-chain] [--at RFC3339] [--json]

Verifies an OFD package, a standalone seal (.esl), an SES_Signature (SignedValue.dat, with
--data naming the signed Signature.xml) or a GB/T 35275 SignedData (.p7s; --data for
detached content). --trust names the trust anchors and CRLs (a PEM/DER file or a directory
of *.pem, *.crt, *.cer, *.der, *.crl). Exit status: 0 VALID, 1 INVALID, 2 usage or
unreadable input, 3 INTACT (signatures intact, trust or revocation not established),
4 UNSUPPORTED (a signature this verifier cannot check).
`

// RunCLI implements "gxctl verify". args are the arguments after the command name (flags
// may come before or after FILE). It writes the report (table or --json) to stdout and
// usage or input errors to stderr, and returns the process exit code.
func RunCLI(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	dataFile := fs.String("data", "", "signed data for an SES_Signature input (e.g. its Signature.xml)")
	trustPath := fs.String("trust", "", "trust anchors and CRLs: a PEM/DER file or a directory")
	inter := fs.String("intermediates", "", "PEM file of intermediate CA certificates")
	requireChain := fs.Bool("require-chain", false, "fail (not unknown) when a certificate does not chain to --trust")
	atText := fs.String("at", "", "time (RFC 3339) at which to check a standalone seal's validity")
	asJSON := fs.Bool("json", false, "print the report as JSON")

	// Let flags follow the file name.
	var files []string
	rest := args
	for {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return ExitUsage
			}
			return ExitUsage
		}
		if fs.NArg() == 0 {
			break
		}
		files = append(files, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if len(files) != 1 {
		fmt.Fprintf(stderr, "verify: need exactly one FILE, got %d\n", len(files))
		fs.Usage()
		return ExitUsage
	}
	input, err := os.ReadFile(files[0])
	if err != nil {
		fmt.Fprintf(stderr, "verify: %v\n", err)
		return ExitUsage
	}
	opts := Options{Name: filepath.Base(files[0]), RequireChain: *requireChain}
	if *dataFile != "" {
		if opts.Data, err = os.ReadFile(*dataFile); err != nil {
			fmt.Fprintf(stderr, "verify: --data: %v\n", err)
			return ExitUsage
		}
	}
	if *inter != "" {
		if opts.Intermediates, err = readCerts(*inter); err != nil {
			fmt.Fprintf(stderr, "verify: --intermediates: %v\n", err)
			return ExitUsage
		}
	}
	if *trustPath != "" {
		b, err := trust.Load(*trustPath)
		if err != nil {
			fmt.Fprintf(stderr, "verify: --trust: %v\n", err)
			return ExitUsage
		}
		if len(b.Anchors) == 0 {
			fmt.Fprintf(stderr, "verify: --trust: %s holds no PEM CERTIFICATE (only CRLs): give the trust anchors too\n", *trustPath)
			return ExitUsage
		}
		opts.Roots = b.Anchors
		opts.Revocation = &trust.CRLs{Issuers: append(append([]*smx509.Certificate{}, b.Anchors...), opts.Intermediates...), Lists: b.CRLs}
	}
	if *atText != "" {
		if opts.At, err = time.Parse(time.RFC3339, *atText); err != nil {
			fmt.Fprintf(stderr, "verify: --at must be RFC 3339 (e.g. 2026-01-02T15:04:05Z): %v\n", err)
			return ExitUsage
		}
	}
	kind, err := Detect(input)
	if err != nil {
		fmt.Fprintf(stderr, "verify: %s: %v\n", files[0], err)
		return ExitUsage
	}
	if kind == KindSignature && opts.Data == nil {
		fmt.Fprintf(stderr, "verify: %s is an SES_Signature: give the signed data with --data (for OFD, the Signature.xml)\n", files[0])
		return ExitUsage
	}
	if kind == KindSignedData && opts.Data == nil {
		if sd, err := cms.Parse(input); err == nil && sd.EContent == nil {
			fmt.Fprintf(stderr, "verify: %s is a SignedData with detached content: give the signed data with --data\n", files[0])
			return ExitUsage
		}
	}
	rep, err := Verify(context.Background(), input, opts)
	if err != nil {
		fmt.Fprintf(stderr, "verify: %s: %v\n", files[0], err)
		return ExitUsage
	}
	if *asJSON {
		err = rep.WriteJSON(stdout)
	} else {
		err = rep.WriteText(stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "verify: write report: %v\n", err)
		return ExitUsage
	}
	return rep.Verdict.ExitCode()
}

// readCerts reads every CERTIFICATE block of a PEM file.
func readCerts(path string) ([]*smx509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []*smx509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := smx509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s holds no PEM CERTIFICATE", path)
	}
	return out, nil
}
