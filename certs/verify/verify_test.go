package verify_test

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/gxhub/gxhub/certs/ofd"
	"github.com/gxhub/gxhub/certs/ses"
	"github.com/gxhub/gxhub/certs/verify"
	"github.com/stretchr/testify/require"
)

const ext = "../testdata/external"

func read(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(ext, rel))
	require.NoError(t, err)
	return b
}

func failedNames(r *verify.Report) []string {
	var out []string
	for _, c := range r.Failed() {
		out = append(out, c.Name)
	}
	sort.Strings(out)
	return out
}

// one returns the single check with this name and asserts its status.
func one(t *testing.T, r *verify.Report, name string, st verify.Status) verify.Check {
	t.Helper()
	cs := r.Find(name)
	require.Len(t, cs, 1, "check %s", name)
	require.Equal(t, st, cs[0].Status, "check %s: %s", name, cs[0].Reason)
	return cs[0]
}

// TestRealFiles asserts, for every real vendor file, the outcome stated in
// testdata/external/README.md: with no trust roots a crypto-VALID file is INTACT (its
// chains and revocation unknown), a REJECT file INVALID naming the failing checks.
func TestRealFiles(t *testing.T) {
	type expect struct {
		file     string
		data     string // Signature.xml for SES_Signature inputs
		kind     verify.Kind
		verdict  verify.Verdict
		failed   []string // exact set of failing checks
		signedAt string   // RFC 3339, "" to skip
		sealID   string
		passes   map[string]string // check name -> substring of its reason
	}
	cryptoValid := map[string]string{
		"signature.outer": "DER(TBS_Sign)", "seal.maker_signature": "DER(SES_SealInfo) (V4)",
		"signature.data_hash": "SM3", "signer.in_seal": "certList",
		"signer.validity_at_signing": "within", "seal.validity_at_signing": "within",
	}
	tests := []expect{
		{file: "ofd/v4signed_gomain_chongqing_tax.ofd", kind: verify.KindOFD, verdict: verify.Intact, signedAt: "2020-10-10T07:11:20Z", sealID: "50011200000399", passes: cryptoValid},
		{file: "ofd/signedFile_gomain_jiangsu_tax.ofd", kind: verify.KindOFD, verdict: verify.Intact, signedAt: "2020-10-04T07:28:55Z", sealID: "32010600000001", passes: cryptoValid},
		{file: "ofd/conv1_gomain_zhejiang_tax.ofd", kind: verify.KindOFD, verdict: verify.Intact, signedAt: "2020-07-23T13:09:07Z", sealID: "33010600000001", passes: cryptoValid},
		{file: "ofd/999_kinggrid_chongqing_test.ofd", kind: verify.KindOFD, verdict: verify.Intact, sealID: "50011200000323", passes: cryptoValid},
		{file: "ofd/gbt35275_gomain_yunnan_pathclip.ofd", kind: verify.KindOFD, verdict: verify.Intact, signedAt: "2022-11-16T11:20:58Z",
			passes: map[string]string{"signature.outer": "DER SET of the signed attributes", "signature.data_hash": "messageDigest = SM3",
				"signature.content_type": "matches", "signer.validity_at_signing": "within", "signature.parse": "GB/T 35275 SignedData"}},
		{file: "ofd/SESV4SignDoc_expired_at_signing.ofd", kind: verify.KindOFD, verdict: verify.Invalid,
			failed:   []string{"seal.validity_at_signing", "signer.validity_at_signing"},
			signedAt: "2026-08-04T02:08:09Z",
			passes:   map[string]string{"signature.outer": "DER", "seal.maker_signature": "(V4)", "signature.data_hash": "SM3", "seal.file": "is the seal embedded"}},

		{file: "seal/ofdrw_UserV1.esl", kind: verify.KindSeal, verdict: verify.Intact, sealID: "40C8CDD24DEF43388B86E62CCE1D6832",
			passes: map[string]string{"seal.maker_signature": "DER(SEQUENCE{sealInfo, cert, signatureAlgorithm}) (V1)"}},
		{file: "seal/ofdrw_UserV4.esl", kind: verify.KindSeal, verdict: verify.Intact, sealID: "51f044b76510434e9bc67a1185c2fba5",
			passes: map[string]string{"seal.maker_signature": "DER(SES_SealInfo) (V4)"}},
		// README: maker signature valid over DER(SES_SealInfo). Beyond the README: the seal
		// was created 2026-04-24 with a maker certificate that expired 2022-04-21.
		{file: "seal/ofdrw_UserV5_ts.esl", kind: verify.KindSeal, verdict: verify.Invalid,
			failed: []string{"maker.validity_at_seal_creation"},
			passes: map[string]string{"seal.maker_signature": "DER(SES_SealInfo) (V5)"}},
		{file: "seal/ofdrw_SESealData_gede.der", kind: verify.KindSeal, verdict: verify.Invalid,
			failed: []string{"maker.validity_at_seal_creation", "seal.maker_signature"}},

		{file: "ses/keyword_tongz_rawRS_SignedValue.dat", data: "ses/keyword_tongz_rawRS_Signature.xml", kind: verify.KindSignature, verdict: verify.Intact,
			signedAt: "2020-06-20T09:18:49Z", passes: map[string]string{"signature.outer": "raw r‖s", "seal.maker_signature": "DER value", "signature.data_hash": "SM3"}},
		{file: "ses/zsbk_ynca_badIA5_SignedValue.dat", data: "ses/zsbk_ynca_badIA5_Signature.xml", kind: verify.KindSignature, verdict: verify.Intact,
			signedAt: "2020-10-10T06:58:41Z", passes: map[string]string{"signer.certificate": "leniently", "signature.outer": "DER(TBS_Sign)", "seal.maker_signature": "(V4)", "signature.data_hash": "SM3"}},
		// README: reject, dataHash != SM3(Signature.xml). The V1 signature also fails over
		// DER(TBS_Sign) and its certList holds IA5String "1" instead of certificates.
		{file: "ses/n_dms360_v1_SignedValue.dat", data: "ses/n_dms360_v1_Signature.xml", kind: verify.KindSignature, verdict: verify.Invalid,
			failed: []string{"signature.data_hash", "signature.outer", "signer.in_seal"},
			passes: map[string]string{"signer.certificate": "leniently", "seal.maker_signature": "(V1)"}},
		{file: "ses/ofdrw_SignedValueV4.dat", data: "ses/ofdrw_Signature.xml", kind: verify.KindSignature, verdict: verify.Invalid,
			failed: []string{"signature.data_hash"},
			passes: map[string]string{"signature.outer": "DER(TBS_Sign)", "seal.maker_signature": "(V4)"}},
	}
	for _, tc := range tests {
		t.Run(filepath.Base(tc.file), func(t *testing.T) {
			opts := verify.Options{Name: tc.file}
			if tc.data != "" {
				opts.Data = read(t, tc.data)
			}
			r, err := verify.Verify(context.Background(), read(t, tc.file), opts)
			require.NoError(t, err)
			require.Equal(t, tc.kind, r.Kind)
			require.Equal(t, tc.verdict, r.Verdict, "%s", r.Summary)
			if tc.verdict == verify.Intact {
				require.Empty(t, r.Unsupporteds())
				require.NotEmpty(t, r.Unknowns(), "INTACT lists what could not be established")
			}
			require.Equal(t, tc.failed, failedNames(r))
			for name, want := range tc.passes {
				cs := r.Find(name)
				require.NotEmpty(t, cs, name)
				for _, c := range cs { // one per signature
					require.Equal(t, verify.Pass, c.Status, "%s: %s", name, c.Reason)
					require.Contains(t, c.Reason, want)
				}
			}
			require.NotEmpty(t, r.Signed)
			if tc.signedAt != "" {
				require.Equal(t, tc.signedAt, r.Signed[0].SigningTime.Truncate(time.Second).Format(time.RFC3339))
			}
			if tc.sealID != "" {
				require.Equal(t, tc.sealID, r.Signed[0].SealID)
			}
			if tc.kind != verify.KindSeal {
				// No trust roots: the chain is unknown, never pass or fail.
				for _, c := range r.Find("signer.chain") {
					require.Equal(t, verify.Unknown, c.Status)
					require.Contains(t, c.Reason, "no trust roots")
				}
				for _, c := range r.Find("signer.revocation") {
					require.Equal(t, verify.Unknown, c.Status)
				}
				require.NotEmpty(t, r.Signed[0].Signer)
			}
			if tc.file == "ses/n_dms360_v1_SignedValue.dat" {
				require.Contains(t, r.Find("signature.outer")[0].Reason, "over dataHash taken as the digest")
			}
			if tc.kind == verify.KindOFD && tc.verdict == verify.Intact {
				// Every file a reader shows is covered.
				one(t, r, "references.coverage", verify.Pass)
			}
			if tc.kind == verify.KindOFD {
				for _, c := range r.Checks {
					if len(c.Name) > 10 && c.Name[:10] == "reference[" {
						require.Equal(t, verify.Pass, c.Status, c.Name)
					}
				}
			}
		})
	}
}

func TestDetect(t *testing.T) {
	tests := []struct {
		file string
		want verify.Kind
	}{
		{"ofd/conv1_gomain_zhejiang_tax.ofd", verify.KindOFD},
		{"seal/ofdrw_UserV4.esl", verify.KindSeal},
		{"seal/ofdrw_UserV1.esl", verify.KindSeal},
		{"ses/n_dms360_v1_SignedValue.dat", verify.KindSignature},
		{"ses/keyword_tongz_rawRS_SignedValue.dat", verify.KindSignature},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			k, err := verify.Detect(read(t, tc.file))
			require.NoError(t, err)
			require.Equal(t, tc.want, k)
		})
	}
	// A GOMAIN seal embeds an OFD (a zip) as its picture: still a seal.
	pkg, err := ofd.Open(read(t, "ofd/v4signed_gomain_chongqing_tax.ofd"), ofd.Limits{})
	require.NoError(t, err)
	sv, err := pkg.ReadFile("Doc_0/Signs/Sign_0/SignedValue.dat")
	require.NoError(t, err)
	sig, err := ses.ParseSignature(sv)
	require.NoError(t, err)
	require.Equal(t, "ofd", sig.Seal.Info.Picture.Type)
	k, err := verify.Detect(sig.Seal.Raw)
	require.NoError(t, err)
	require.Equal(t, verify.KindSeal, k)
	// A KingGrid-style OFD with bytes before the zip.
	k, err = verify.Detect(append([]byte("junk before the zip"), read(t, "ofd/999_kinggrid_chongqing_test.ofd")...))
	require.NoError(t, err)
	require.Equal(t, verify.KindOFD, k)

	_, err = verify.Detect([]byte("%PDF-1.7"))
	require.ErrorIs(t, err, verify.ErrInput)
	_, err = verify.Verify(context.Background(), []byte("%PDF-1.7"), verify.Options{})
	require.ErrorIs(t, err, verify.ErrInput)
}
