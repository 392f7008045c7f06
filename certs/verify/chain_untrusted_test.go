package verify_test

import (
	"context"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/emmansun/gmsm/smx509"
	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/certs/verify"
)

// With a trust store that does not hold a vendor's CA, a real vendor OFD stays INTACT with
// its chains unknown — also when a certificate is outside its validity at the time its
// chain is checked (the Jiangsu seal was made before its maker certificate started, which
// the seal checks report on their own).
func TestVendorChainUnknownWithUnrelatedRoots(t *testing.T) {
	blk, _ := pem.Decode(read(t, "certs/tongsuo_sm2_chain-ca.crt"))
	require.NotNil(t, blk)
	root, err := smx509.ParseCertificate(blk.Bytes)
	require.NoError(t, err)
	for _, f := range []string{"ofd/signedFile_gomain_jiangsu_tax.ofd", "ofd/v4signed_gomain_chongqing_tax.ofd"} {
		t.Run(f, func(t *testing.T) {
			r, err := verify.Verify(context.Background(), read(t, f), verify.Options{Roots: []*smx509.Certificate{root}})
			require.NoError(t, err)
			require.Equal(t, verify.Intact, r.Verdict, r.Summary)
			n := 0
			for _, c := range r.Checks {
				if strings.HasSuffix(c.Name, ".chain") {
					require.Equal(t, verify.Unknown, c.Status, "%s: %s", c.Name, c.Reason)
					n++
				}
			}
			require.Positive(t, n, "chain checks reported")
		})
	}
}
