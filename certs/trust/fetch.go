package trust

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/emmansun/gmsm/smx509"

	"github.com/gxhub/gxhub/certs/pki"
)

// maxCRL bounds a fetched CRL (a national CA's CRL is a few MB at most).
const maxCRL = 16 << 20

// CheckLocation says whether a CRL location can be fetched: an http or https URL with a
// host, or an absolute file path.
func CheckLocation(loc string) error {
	loc = strings.TrimSpace(loc)
	switch {
	case loc == "":
		return errors.New("empty CRL location: give an http(s) URL or an absolute file path")
	case strings.HasPrefix(loc, "http://") || strings.HasPrefix(loc, "https://"):
		u, err := url.Parse(loc)
		if err != nil || u.Host == "" {
			return fmt.Errorf("CRL location %q is not a valid URL", loc)
		}
		return nil
	case filepath.IsAbs(loc):
		return nil
	case strings.Contains(loc, "://"):
		return fmt.Errorf("CRL location %q: only http, https and absolute file paths are supported (ldap is not)", loc)
	default:
		return fmt.Errorf("CRL location %q is neither an http(s) URL nor an absolute file path", loc)
	}
}

// FetchCRL reads the CRL at loc (http(s) URL or absolute file path; DER or PEM) and
// accepts it only when one of issuers signed it and it is not stale at now.
func FetchCRL(ctx context.Context, client *http.Client, loc string, issuers []*smx509.Certificate, now time.Time) (*smx509.RevocationList, error) {
	if err := CheckLocation(loc); err != nil {
		return nil, err
	}
	var raw []byte
	var err error
	if strings.HasPrefix(loc, "http") {
		raw, err = httpGet(ctx, client, loc, "application/pkix-crl")
	} else {
		raw, err = readLimited(loc)
	}
	if err != nil {
		return nil, err
	}
	crl, err := pki.ParseCRL(raw)
	if err != nil {
		return nil, err
	}
	c := &CRLs{Issuers: issuers}
	iss := c.issuerOf(crl)
	if iss == nil {
		return nil, fmt.Errorf("the CRL from %s was issued by %q, which is not in the trust store or did not sign it: load its CA into the trust bundle", loc, crl.Issuer.String())
	}
	if err := pki.CheckCRL(crl, iss, now); err != nil {
		return nil, err
	}
	return crl, nil
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxCRL+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxCRL {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, maxCRL)
	}
	return b, nil
}

func httpGet(ctx context.Context, client *http.Client, loc, accept string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, loc, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", accept)
	return do(client, req, loc)
}

func do(client *http.Client, req *http.Request, loc string) ([]byte, error) {
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", loc, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch %s: HTTP %s", loc, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxCRL+1))
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", loc, err)
	}
	if len(b) > maxCRL {
		return nil, fmt.Errorf("fetch %s: the answer is larger than %d bytes", loc, maxCRL)
	}
	return b, nil
}

func post(ctx context.Context, client *http.Client, loc, contentType, accept string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, loc, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Accept", accept)
	return do(client, req, loc)
}

// CheckAnchors refuses a trust bundle that cannot serve as one: it must hold certificates
// only (CRLs come from CRL sources), none twice, each a CA allowed to sign certificates or
// an end-entity certificate pinned on purpose (not a CA without keyCertSign, which would
// look like a CA but cannot anchor a chain).
func CheckAnchors(b *Bundle) error {
	if len(b.CRLs) > 0 {
		return errors.New("the bundle holds CRLs: add CRLs as CRL sources, the bundle holds trust anchors only")
	}
	if len(b.Anchors) > 500 {
		return fmt.Errorf("the bundle holds %d certificates, more than 500", len(b.Anchors))
	}
	seen := map[string]bool{}
	for i, c := range b.Anchors {
		if seen[string(c.Raw)] {
			return fmt.Errorf("certificate %d (%q) appears twice", i+1, c.Subject.String())
		}
		seen[string(c.Raw)] = true
		if c.IsCA && c.KeyUsage != 0 && c.KeyUsage&smx509.KeyUsageCertSign == 0 {
			return fmt.Errorf("certificate %d (%q) is marked CA but its key usage lacks keyCertSign: it cannot anchor a chain", i+1, c.Subject.String())
		}
	}
	return nil
}
