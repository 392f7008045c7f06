package pki

import (
	"crypto/ecdsa"
	"crypto/x509/pkix"
	"fmt"
	"time"

	"github.com/emmansun/gmsm/smx509"
)

// Purpose is what one of the hub's own signing keys may sign. Each purpose has its own
// key and certificate, marked by a certificate policy, so that a signature made with one
// key can never stand for another kind: a pull-response key cannot sign tree heads, a
// tree-head key cannot sign anchor blocks, and a department certificate (no such
// policy) can sign none of them.
type Purpose int

// The hub key purposes.
const (
	PurposeTreeHead   Purpose = iota + 1 // signed tree heads and checkpoints of the audit log
	PurposeAnchor                        // blocks of the embedded anchor chain
	PurposePull                          // pull responses
	PurposeFederation                    // messages to other hubs under a federation agreement
)

// purposeArc is gxhub's arc for the purposes: a UUID OID (ITU-T X.667, 2.25.<uuid>),
// which needs no registration; purpose n is the certificate policy <arc>.<n>.
const purposeArc = "2.25.71510047756048254357871637815337153389"

// OID is the certificate policy that marks the purpose.
func (p Purpose) OID() smx509.OID { return purposeOIDs[p] }

var purposeOIDs = func() map[Purpose]smx509.OID {
	m := map[Purpose]smx509.OID{}
	for _, p := range []Purpose{PurposeTreeHead, PurposeAnchor, PurposePull, PurposeFederation} {
		oid, err := smx509.ParseOID(fmt.Sprintf("%s.%d", purposeArc, int(p)))
		if err != nil {
			panic(err)
		}
		m[p] = oid
	}
	return m
}()

// String names the purpose.
func (p Purpose) String() string {
	switch p {
	case PurposeTreeHead:
		return "audit tree heads"
	case PurposeAnchor:
		return "embedded anchor blocks"
	case PurposePull:
		return "pull responses"
	case PurposeFederation:
		return "federation messages"
	}
	return fmt.Sprintf("purpose(%d)", int(p))
}

// IssueHubKeyCert certifies pub, one of the hub's own keys, for exactly purpose p.
func (ca *CA) IssueHubKeyCert(pub *ecdsa.PublicKey, p Purpose, notBefore time.Time, validity time.Duration) (*smx509.Certificate, error) {
	if err := ca.check(); err != nil {
		return nil, err
	}
	oid, ok := purposeOIDs[p]
	if !ok {
		return nil, fmt.Errorf("issue hub key certificate: unknown purpose %d", int(p))
	}
	tmpl, err := ca.childTemplate(pkix.Name{CommonName: "gxhub key for " + p.String(), Organization: []string{"gxhub"}, Country: []string{"CN"}}, pub, notBefore, validity)
	if err != nil {
		return nil, err
	}
	tmpl.IsCA = false
	tmpl.MaxPathLen = -1
	tmpl.KeyUsage = smx509.KeyUsageDigitalSignature
	tmpl.Policies = []smx509.OID{oid}
	return ca.sign(tmpl, pub)
}

// VerifyHubKeyCert checks that cert certifies one of the hub's keys for purpose p, at
// `at`: a signing certificate chained to roots (VerifySigningCert) whose only certificate
// policy is p's.
func VerifyHubKeyCert(cert *smx509.Certificate, p Purpose, roots, intermediates []*smx509.Certificate, at time.Time) error {
	if err := VerifySigningCert(cert, roots, intermediates, at); err != nil {
		return err
	}
	want := purposeOIDs[p]
	if len(cert.Policies) != 1 || !cert.Policies[0].Equal(want) {
		return fmt.Errorf("certificate %q is not the hub's certificate for %s (certificate policies %v, want only %s)", cert.Subject.CommonName, p, cert.Policies, want)
	}
	return nil
}
