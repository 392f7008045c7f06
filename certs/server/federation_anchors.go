package server

import (
	"context"
	"fmt"

	"github.com/emmansun/gmsm/smx509"

	"github.com/gxhub/gxhub/certs/pki"
)

// addFederationAnchors trusts the CA roots (and issuing CAs) of the hubs this hub has a
// usable agreement with: a document or e-certificate issued under such a hub's PKI then
// verifies VALID here; once the agreement is suspended, ended or expired, the next reload
// (ReloadTrust after every agreement change) drops them again and such a document is at
// most INTACT. The roots come from the agreement both hubs signed, not from anything the
// document carries.
func (t *TrustStore) addFederationAnchors(ctx context.Context, add func(c *smx509.Certificate, source string)) error {
	as, err := t.Store.Federation().ListAgreements(ctx)
	if err != nil {
		return err
	}
	now := t.now()
	for _, a := range as {
		if a.Usable(now) != nil {
			continue
		}
		p := a.Peer()
		for _, pemText := range []string{p.RootPEM, p.IssuingPEM} {
			certs, err := pki.ParseCertsPEM([]byte(pemText))
			if err != nil {
				return fmt.Errorf("agreement %s: the CA certificates of hub %s do not parse: %w", a.Terms.ID, p.ID, err)
			}
			for _, c := range certs {
				add(c, fmt.Sprintf("federation agreement %s with hub %s", a.Terms.ID, p.ID))
			}
		}
	}
	return nil
}
