// Package trust is what a relying party (an approver, the hub) trusts when it verifies
// seals, signatures and e-certificates: trust anchors (national and provincial e-seal and
// e-licence CAs, the hub's own root) and the revocation sources for the certificates below
// them: CRLs (from files or URLs, refreshed on a schedule) and OCSP responders named by the
// certificates. It answers verify.RevocationChecker; the verifier asks it about each signer,
// seal maker and TSA certificate at the signing time.
//
// A bundle is read from PEM or DER: every CERTIFICATE is a trust anchor (a root, a
// sub-CA, or a pinned end-entity certificate), every X509 CRL a revocation list. A
// directory is read file by file (*.pem, *.crt, *.cer, *.der, *.crl).
package trust

import (
	"bytes"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/emmansun/gmsm/smx509"
)

// Bundle is a set of trust anchors and CRLs.
type Bundle struct {
	Anchors []*smx509.Certificate
	CRLs    []*smx509.RevocationList
}

// maxBundle bounds a bundle's size (a national bundle holds tens of CA certificates).
const maxBundle = 8 << 20

// Parse reads a bundle from PEM (CERTIFICATE and X509 CRL blocks) or from one DER
// certificate or CRL. It fails on a block that does not parse, naming it, and when data
// holds neither a certificate nor a CRL.
func Parse(data []byte) (*Bundle, error) {
	if len(data) > maxBundle {
		return nil, fmt.Errorf("trust bundle is %d bytes, above the %d-byte limit", len(data), maxBundle)
	}
	b := &Bundle{}
	if !bytes.Contains(data, []byte("-----BEGIN")) {
		if c, err := smx509.ParseCertificate(data); err == nil {
			b.Anchors = append(b.Anchors, c)
			return b, nil
		}
		if crl, err := smx509.ParseRevocationList(data); err == nil {
			b.CRLs = append(b.CRLs, crl)
			return b, nil
		}
		return nil, errors.New("neither PEM nor a DER certificate or CRL")
	}
	rest := data
	n := 0
	for {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		n++
		switch blk.Type {
		case "CERTIFICATE":
			c, err := smx509.ParseCertificate(blk.Bytes)
			if err != nil {
				return nil, fmt.Errorf("PEM block %d (CERTIFICATE): %w", n, err)
			}
			b.Anchors = append(b.Anchors, c)
		case "X509 CRL":
			crl, err := smx509.ParseRevocationList(blk.Bytes)
			if err != nil {
				return nil, fmt.Errorf("PEM block %d (X509 CRL): %w", n, err)
			}
			b.CRLs = append(b.CRLs, crl)
		}
	}
	if len(b.Anchors)+len(b.CRLs) == 0 {
		return nil, errors.New("no CERTIFICATE or X509 CRL PEM block found")
	}
	return b, nil
}

// Load reads a bundle from a file, or from every *.pem, *.crt, *.cer, *.der and *.crl file
// of a directory (in name order).
func Load(path string) (*Bundle, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		out, err := Parse(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return out, nil
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		switch strings.ToLower(filepath.Ext(e.Name())) {
		case ".pem", ".crt", ".cer", ".der", ".crl":
			if !e.IsDir() {
				names = append(names, e.Name())
			}
		}
	}
	sort.Strings(names)
	out := &Bundle{}
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(path, n))
		if err != nil {
			return nil, err
		}
		one, err := Parse(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(path, n), err)
		}
		out.Anchors = append(out.Anchors, one.Anchors...)
		out.CRLs = append(out.CRLs, one.CRLs...)
	}
	if len(out.Anchors)+len(out.CRLs) == 0 {
		return nil, fmt.Errorf("%s holds no certificate or CRL file (*.pem, *.crt, *.cer, *.der, *.crl)", path)
	}
	return out, nil
}

// Add appends another bundle's anchors and CRLs, skipping certificates already present.
func (b *Bundle) Add(o *Bundle) {
	if o == nil {
		return
	}
	for _, c := range o.Anchors {
		dup := false
		for _, h := range b.Anchors {
			if bytes.Equal(h.Raw, c.Raw) {
				dup = true
				break
			}
		}
		if !dup {
			b.Anchors = append(b.Anchors, c)
		}
	}
	b.CRLs = append(b.CRLs, o.CRLs...)
}

// PEM encodes the anchors (CERTIFICATE blocks) and CRLs (X509 CRL blocks).
func (b *Bundle) PEM() []byte {
	var out []byte
	for _, c := range b.Anchors {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	for _, c := range b.CRLs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: c.Raw})...)
	}
	return out
}
