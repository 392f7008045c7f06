package sdk

import (
	"context"
	"errors"
	"fmt"

	"github.com/gxhub/gxhub/certs/ecert"
	"github.com/gxhub/gxhub/certs/ofd"
	"github.com/gxhub/gxhub/certs/pki"
	certsv1 "github.com/gxhub/gxhub/sdk/api/certs/v1"
)

// SealOptions place the seal and choose a timestamp.
type SealOptions struct {
	// Page is the 1-based page the seal is stamped on (0: the first); X and Y place it in
	// millimetres (negative: the bottom right corner).
	Page int
	X, Y float64
	// Timestamp asks the hub's TSA for an RFC 3161 token over the signature value.
	Timestamp bool
	// Name labels the document at the hub.
	Name string
}

// SealDocument seals an OFD document with seal (a hub-made GB/T 38540 seal listing this
// department's certificate) and the department's own key — the key never leaves the
// department — and registers the sealed document at the hub, which verifies it (VALID
// with the hub's trust store, the seal active and the department's) and keeps it as
// evidence. It returns the sealed OFD and the registration.
func (c *Client) SealDocument(ctx context.Context, doc, seal []byte, opts SealOptions) ([]byte, *certsv1.RegisterSealedDocumentResponse, error) {
	if c.id == nil || c.id.Key == nil {
		return nil, nil, errors.New("seal document: a department identity with its key is required")
	}
	certs, err := pki.ParseCertsPEM(c.id.CertPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("seal document: identity certificate: %w", err)
	}
	req := ofd.SealRequest{Seal: seal, Key: c.id.Key, Cert: certs[0].Raw, Time: c.now(), Provider: "gxhub SDK", Page: opts.Page, X: opts.X, Y: opts.Y}
	if opts.Timestamp {
		req.TimeStamper = func(value []byte) ([]byte, error) {
			resp, err := c.Seal.Timestamp(ctx, &certsv1.TimestampRequest{SignatureValue: value})
			if err != nil {
				return nil, err
			}
			return resp.GetToken(), nil
		}
	}
	sealed, err := ofd.Seal(doc, req)
	if err != nil {
		return nil, nil, fmt.Errorf("seal document: %w", err)
	}
	resp, err := c.Seal.RegisterSealedDocument(ctx, &certsv1.RegisterSealedDocumentRequest{Name: opts.Name, Content: sealed})
	if err != nil {
		return sealed, nil, err
	}
	return sealed, resp, nil
}

// LicenceOFD lays out licence m as a GB/T 36905 OFD file, seals it with seal and the
// department's key (the issuing authority's), and registers it at the hub.
func (c *Client) LicenceOFD(ctx context.Context, m *ecert.Metadata, seal []byte, opts SealOptions) ([]byte, *certsv1.RegisterSealedDocumentResponse, error) {
	cat, err := c.Catalogue(ctx)
	if err != nil {
		return nil, nil, err
	}
	doc, err := ecert.NewLicenceOFD(m, cat)
	if err != nil {
		return nil, nil, err
	}
	if opts.Name == "" {
		opts.Name = m.Identifier + ".ofd"
	}
	return c.SealDocument(ctx, doc, seal, opts)
}
