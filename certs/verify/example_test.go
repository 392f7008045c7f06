package verify_test

import (
	"context"
	"fmt"
	"os"

	"github.com/gxhub/gxhub/certs/verify"
)

// Verify a real OFD whose signature was made after the signer's certificate and the seal
// had expired: every signature and digest is correct, the document is still invalid.
func ExampleVerify() {
	input, err := os.ReadFile("../testdata/external/ofd/SESV4SignDoc_expired_at_signing.ofd")
	if err != nil {
		fmt.Println(err)
		return
	}
	report, err := verify.Verify(context.Background(), input, verify.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(report.Kind, report.Verdict, report.Signed[0].SealName)
	for _, c := range report.Failed() {
		fmt.Println(c.Name+":", c.Reason)
	}
	// Output:
	// ofd INVALID OFD R&W 测试用印章
	// signer.validity_at_signing: signing time 2026-08-04T02:08:09Z outside the signer certificate's validity 2020-04-21T14:39:08Z .. 2022-04-21T14:39:08Z
	// seal.validity_at_signing: signing time 2026-08-04T02:08:09Z outside the seal's validity 2020-04-22T02:09:00Z .. 2022-04-22T02:09:00Z
}
