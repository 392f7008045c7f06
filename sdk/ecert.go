package sdk

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gxhub/gxhub/certs/ecert"
	"github.com/gxhub/gxhub/certs/pki"
	certsv1 "github.com/gxhub/gxhub/sdk/api/certs/v1"
	"github.com/gxhub/gxhub/sdk/identity"
)

// SealLicence seals licence metadata m with the department identity's own SM2 key and
// certificate (ecert.Seal), embedding the CA chain: the private key never leaves the
// department. cat must know m's type (see Client.Catalogue).
func SealLicence(id *identity.Identity, m *ecert.Metadata, cat *ecert.Catalogue, at time.Time) (string, error) {
	if id == nil || id.Key == nil {
		return "", errors.New("seal licence: a department identity with its key is required")
	}
	certs, err := pki.ParseCertsPEM(id.CertPEM)
	if err != nil || len(certs) == 0 {
		return "", fmt.Errorf("seal licence: identity certificate: %v", err)
	}
	var chain = certs[1:]
	if len(id.CAChainPEM) > 0 {
		ca, err := pki.ParseCertsPEM(id.CAChainPEM)
		if err != nil {
			return "", fmt.Errorf("seal licence: identity CA chain: %w", err)
		}
		chain = append(chain, ca...)
	}
	return ecert.Seal(m, cat, id.Key, certs[0], chain, at)
}

// CertTypeFromProto converts a wire licence type.
func CertTypeFromProto(p *certsv1.CertType) ecert.CertType {
	t := ecert.CertType{Code: p.GetCode(), Name: p.GetName(), DefinerName: p.GetDefinerName(), HolderType: ecert.HolderType(p.GetHolderType())}
	for _, it := range p.GetItems() {
		t.Items = append(t.Items, ecert.ItemSpec{Key: it.GetKey(), Name: it.GetName(), Required: it.GetRequired()})
	}
	return t
}

// Catalogue fetches the hub's licence type catalogue.
func (c *Client) Catalogue(ctx context.Context) (*ecert.Catalogue, error) {
	resp, err := c.ECert.ListCertTypes(ctx, &certsv1.ListCertTypesRequest{})
	if err != nil {
		return nil, err
	}
	var types []ecert.CertType
	for _, t := range resp.GetTypes() {
		types = append(types, CertTypeFromProto(t))
	}
	return ecert.NewCatalogue(types...)
}

// IssueLicence seals m with the client's identity and registers it at the hub (the
// caller must be m's issuing authority and hold the issuer role). With supersedes set,
// m is registered as the next version of that identifier.
func (c *Client) IssueLicence(ctx context.Context, m *ecert.Metadata, supersedes string) (*certsv1.ECert, error) {
	cat, err := c.Catalogue(ctx)
	if err != nil {
		return nil, err
	}
	sealed, err := SealLicence(c.id, m, cat, c.now())
	if err != nil {
		return nil, err
	}
	if supersedes != "" {
		resp, err := c.ECert.UpdateECert(ctx, &certsv1.UpdateECertRequest{Identifier: supersedes, Sealed: sealed})
		return resp.GetEcert(), err
	}
	resp, err := c.ECert.IssueECert(ctx, &certsv1.IssueECertRequest{Sealed: sealed})
	return resp.GetEcert(), err
}
