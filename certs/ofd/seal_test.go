package ofd_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/certs/ofd"
	"github.com/gxhub/gxhub/certs/ses"
	"github.com/gxhub/gxhub/certs/ses/sestest"
)

// Seal places the seal picture where asked (by default at the bottom right of the first
// page), refuses a page that does not exist or a position where the seal does not fit, and
// a second seal leaves the first one's files untouched.
func TestSeal(t *testing.T) {
	f := sestest.NewFixture(t, false)
	src := read(t, "ofd/999_kinggrid_chongqing_test.ofd")
	pkg, err := ofd.Open(src, ofd.Limits{})
	require.NoError(t, err)
	pages, err := pkg.Pages()
	require.NoError(t, err)
	require.Len(t, pages, 5)
	require.Equal(t, ofd.PageInfo{ID: "10", Path: "Doc_0/Pages/Page_0/Content.xml", Width: 210, Height: 140}, pages[0])

	at := time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC)
	req := ofd.SealRequest{Seal: f.Seal, Key: f.SignerKey, Cert: f.SignerCert, Time: at, X: -1, Y: -1}
	out, err := ofd.Seal(src, req)
	require.NoError(t, err)
	p2, err := ofd.Open(out, ofd.Limits{})
	require.NoError(t, err)
	docs, err := p2.Documents()
	require.NoError(t, err)
	require.Len(t, docs[0].Signatures, 2)
	s := docs[0].Signatures[1]
	require.Contains(t, string(s.XML), `PageRef="10" Boundary="150 80 40 40"`, "40x40 mm at the bottom right of a 210x140 page")
	refs := map[string]bool{}
	for _, r := range s.References {
		refs[r.Path] = true
	}
	require.True(t, refs["Doc_0/Signs/Sign_0/SignedValue.dat"], "the second seal covers the first")
	require.False(t, refs["Doc_0/Signs/Signatures.xml"], "the list every later seal rewrites is not covered")
	sv, err := p2.ReadFile(s.SignedValuePath)
	require.NoError(t, err)
	sig, err := ses.ParseSignature(sv)
	require.NoError(t, err)
	require.Equal(t, at, sig.TimeInfo)

	for _, bad := range []ofd.SealRequest{
		{Seal: f.Seal, Key: f.SignerKey, Cert: f.SignerCert, Page: 6},
		{Seal: f.Seal, Key: f.SignerKey, Cert: f.SignerCert, Page: 1, X: 190, Y: 10},
		{Seal: []byte("not a seal"), Key: f.SignerKey, Cert: f.SignerCert},
	} {
		_, err := ofd.Seal(src, bad)
		require.Error(t, err)
	}
	other := sestest.NewFixture(t, false)
	_, err = ofd.Seal(src, ofd.SealRequest{Seal: f.Seal, Key: other.SignerKey, Cert: other.SignerCert})
	require.ErrorContains(t, err, "not in the seal's certificate list")
}
