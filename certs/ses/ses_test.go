package ses_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/emmansun/gmsm/smx509"
	"github.com/gxhub/gxhub/certs/ses"
	"github.com/gxhub/gxhub/certs/ses/sestest"
	"github.com/gxhub/gxhub/certs/sm"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

const ext = "../testdata/external"

func read(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(ext, rel))
	require.NoError(t, err)
	return b
}

// sequenceForm is DER(SEQUENCE{sealInfo, cert, alg}) rebuilt from parsed fields.
func sequenceForm(t *testing.T, s *ses.Seal) []byte {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(c *cryptobyte.Builder) {
		c.AddBytes(s.Info.Raw)
		c.AddASN1OctetString(s.MakerCert)
		c.AddASN1ObjectIdentifier(s.SignAlg)
	})
	out, err := b.Bytes()
	require.NoError(t, err)
	return out
}

func TestParseSealRealFiles(t *testing.T) {
	tests := []struct {
		file         string
		version      int
		hdrVersion   int64
		vid, esID    string
		certs        int
		timeStamp    bool
		makerValid   bool
		validFromTxt string
	}{
		{"seal/ofdrw_UserV1.esl", ses.V1, 1, "OFDR&WTest", "40C8CDD24DEF43388B86E62CCE1D6832", 1, false, true, "2020-04-22T02:18:07Z"},
		{"seal/ofdrw_UserV4.esl", ses.V4, 4, "OFDR&WTest", "51f044b76510434e9bc67a1185c2fba5", 1, false, true, "2020-04-22T02:09:00Z"},
		{"seal/ofdrw_UserV5_ts.esl", ses.V5, 5, "OFDR&WTestV5", "55a4a957189a48f596706fb431e962c5", 1, true, true, "2026-04-24T08:53:22Z"},
		{"seal/ofdrw_SESealData_gede.der", ses.V4, 4, "Vid HebeiGede", "esID130600", 2, false, false, "2020-10-13T09:45:58Z"},
	}
	for _, tc := range tests {
		t.Run(filepath.Base(tc.file), func(t *testing.T) {
			s, err := ses.ParseSeal(read(t, tc.file))
			require.NoError(t, err)
			require.Equal(t, tc.version, s.Version)
			require.Equal(t, tc.hdrVersion, s.Info.Header.Version)
			require.Equal(t, tc.vid, s.Info.Header.VID)
			require.Equal(t, tc.esID, s.Info.ESID)
			require.Len(t, s.Info.Property.Certs, tc.certs)
			require.Equal(t, tc.timeStamp, len(s.TimeStamp) > 0)
			require.Equal(t, tc.validFromTxt, s.Info.Property.ValidStart.Format(time.RFC3339))
			_, err = s.VerifyMaker()
			if tc.makerValid {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, sm.ErrBadSignature)
			}
		})
	}
}

// The maker signature covers different bytes by version (README: seal/).
func TestMakerMessageIsVersionSpecific(t *testing.T) {
	tests := []struct {
		file         string
		validOverSeq bool // DER(SEQUENCE{sealInfo, cert, alg})
		validOverRaw bool // DER(SES_SealInfo)
	}{
		{"seal/ofdrw_UserV1.esl", true, false},
		{"seal/ofdrw_UserV4.esl", false, true},
		{"seal/ofdrw_UserV5_ts.esl", false, true},
	}
	for _, tc := range tests {
		t.Run(filepath.Base(tc.file), func(t *testing.T) {
			s, err := ses.ParseSeal(read(t, tc.file))
			require.NoError(t, err)
			mc, err := ses.ParseCertificate(s.MakerCert)
			require.NoError(t, err)
			seq := sequenceForm(t, s)
			require.Equal(t, tc.validOverSeq, sm.Verify(mc.PublicKey, seq, s.SignedValue) == nil)
			require.Equal(t, tc.validOverRaw, sm.Verify(mc.PublicKey, s.Info.Raw, s.SignedValue) == nil)
			if tc.validOverSeq {
				require.Equal(t, seq, s.MakerMessage())
			} else {
				require.Equal(t, s.Info.Raw, s.MakerMessage())
			}
		})
	}
}

func TestParseSignatureRealFiles(t *testing.T) {
	tests := []struct {
		file       string
		version    int
		timeKind   ses.TimeInfoKind
		signedAt   string
		encoding   string
		outerValid bool
		lenient    bool
		certIDs    []string
	}{
		{"ses/keyword_tongz_rawRS_SignedValue.dat", ses.V4, ses.TimeGeneralized, "2020-06-20T09:18:49Z", "raw r‖s", true, false, nil},
		{"ses/zsbk_ynca_badIA5_SignedValue.dat", ses.V4, ses.TimeGeneralized, "2020-10-10T06:58:41Z", "DER", true, true, nil},
		{"ses/ofdrw_SignedValueV4.dat", ses.V4, ses.TimeGeneralized, "2020-10-12T11:14:03Z", "DER", true, false, nil},
		{"ses/n_dms360_v1_SignedValue.dat", ses.V1, ses.TimeBitString, "2020-01-25T07:31:56Z", "DER", false, true, []string{"1"}},
	}
	for _, tc := range tests {
		t.Run(filepath.Base(tc.file), func(t *testing.T) {
			s, err := ses.ParseSignature(read(t, tc.file))
			require.NoError(t, err)
			require.Equal(t, tc.version, s.Version)
			require.Equal(t, tc.timeKind, s.TimeInfoKind)
			require.Equal(t, tc.signedAt, s.TimeInfo.Truncate(time.Second).Format(time.RFC3339))
			require.Equal(t, tc.encoding, ses.ValueEncoding(s.Value))
			require.Equal(t, tc.certIDs, s.Seal.Info.Property.CertIDs)
			c, err := s.VerifyOuter()
			require.NotNil(t, c)
			require.Equal(t, tc.lenient, c.Lenient)
			require.Equal(t, tc.outerValid, err == nil, "outer: %v", err)
			_, err = s.Seal.VerifyMaker()
			require.NoError(t, err)
			require.True(t, bytes.Contains(s.Raw, s.TBSRaw))
		})
	}
}

func TestLenientCertificate(t *testing.T) {
	s, err := ses.ParseSignature(read(t, "ses/zsbk_ynca_badIA5_SignedValue.dat"))
	require.NoError(t, err)
	c, err := ses.ParseCertificate(s.Cert)
	require.NoError(t, err)
	require.True(t, c.Lenient)
	require.Nil(t, c.X509)
	require.Contains(t, c.StrictError, "IA5String")
	require.Contains(t, c.Subject, "emailAddress=电子邮箱")
	require.Equal(t, "2020-10-24T08:25:03Z", c.NotAfter.Format(time.RFC3339))

	// A strict-parsable real certificate is not lenient.
	s, err = ses.ParseSignature(read(t, "ses/keyword_tongz_rawRS_SignedValue.dat"))
	require.NoError(t, err)
	c, err = ses.ParseCertificate(s.Cert)
	require.NoError(t, err)
	require.False(t, c.Lenient)
	require.NotNil(t, c.X509)

	_, err = ses.ParseCertificate([]byte{0x30, 0x03, 0x02, 0x01, 0x01})
	require.Error(t, err)
}

// Every truncation and many single-byte changes of real inputs give an error or a
// structure, never a panic.
func TestHostileInputs(t *testing.T) {
	files := []string{"seal/ofdrw_UserV1.esl", "seal/ofdrw_UserV4.esl", "seal/ofdrw_UserV5_ts.esl",
		"ses/keyword_tongz_rawRS_SignedValue.dat", "ses/n_dms360_v1_SignedValue.dat"}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b := read(t, f)
			for n := 0; n < len(b); n += 1 + n/50 {
				_, err := ses.ParseSeal(b[:n])
				require.Error(t, err)
				require.True(t, errors.Is(err, ses.ErrFormat), "%v", err)
				_, err = ses.ParseSignature(b[:n])
				require.Error(t, err)
			}
			for i := 0; i < len(b); i += 7 {
				c := bytes.Clone(b)
				c[i] ^= 0xff
				_, _ = ses.ParseSeal(c)
				_, _ = ses.ParseSignature(c)
			}
		})
	}
}

func TestMakeAndSignRoundTrip(t *testing.T) {
	for _, digests := range []bool{false, true} {
		name := "certList"
		if digests {
			name = "certDigestList"
		}
		t.Run(name, func(t *testing.T) {
			f := sestest.NewFixture(t, digests)
			seal, err := ses.ParseSeal(f.Seal)
			require.NoError(t, err)
			require.Equal(t, ses.V4, seal.Version)
			require.Equal(t, f.Spec.Name, seal.Info.Property.Name)
			require.Equal(t, f.Spec.ESID, seal.Info.ESID)
			require.Equal(t, f.Spec.ValidEnd, seal.Info.Property.ValidEnd)
			if digests {
				require.Equal(t, int64(ses.CertListDigests), seal.Info.Property.CertListType)
				require.Len(t, seal.Info.Property.Digests, 1)
				require.Empty(t, seal.Info.Property.Certs)
			} else {
				require.Equal(t, int64(ses.CertListCerts), seal.Info.Property.CertListType)
				require.Equal(t, [][]byte{f.SignerCert}, seal.Info.Property.Certs)
			}
			_, err = seal.VerifyMaker()
			require.NoError(t, err)
			ok, _ := seal.ListsCert(f.SignerCert)
			require.True(t, ok)
			ok, _ = seal.ListsCert(f.MakerCert)
			require.False(t, ok)

			data := []byte("<ofd:Signature>...</ofd:Signature>")
			at := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
			var stamped []byte
			der, err := ses.SignV4(ses.SignRequest{
				Seal: f.Seal, Key: f.SignerKey, Cert: f.SignerCert, Data: data,
				PropertyInfo: "/Doc_0/Signs/Sign_0/Signature.xml", Time: at,
				TimeStamper: func(sig []byte) ([]byte, error) { stamped = sig; return []byte("tst"), nil },
			})
			require.NoError(t, err)
			sig, err := ses.ParseSignature(der)
			require.NoError(t, err)
			require.Equal(t, at, sig.TimeInfo)
			sum := sm.Sum(data)
			require.Equal(t, sum[:], sig.DataHash)
			require.Equal(t, []byte("tst"), sig.TimeStamp)
			require.Equal(t, stamped, sig.Value)
			require.Equal(t, f.Seal, sig.Seal.Raw)
			_, err = sig.VerifyOuter()
			require.NoError(t, err)
		})
	}
}

func TestSignRefusals(t *testing.T) {
	f := sestest.NewFixture(t, false)
	other, otherCert := f.CA.Issue(t, "other", time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	v1 := read(t, "seal/ofdrw_UserV1.esl")
	tests := []struct {
		name string
		req  ses.SignRequest
		want string
	}{
		{"key does not match cert", ses.SignRequest{Seal: f.Seal, Key: other, Cert: f.SignerCert}, "does not hold"},
		{"cert not in seal", ses.SignRequest{Seal: f.Seal, Key: other, Cert: otherCert}, "not in the seal"},
		{"V1 seal", ses.SignRequest{Seal: v1, Key: f.SignerKey, Cert: f.SignerCert}, "V1"},
		{"garbage seal", ses.SignRequest{Seal: []byte{1, 2, 3}, Key: f.SignerKey, Cert: f.SignerCert}, "seal"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ses.SignV4(tc.req)
			require.ErrorContains(t, err, tc.want)
		})
	}
	_, err := ses.MakeSealV4(f.Spec, other, f.MakerCert)
	require.ErrorContains(t, err, "maker certificate does not hold")
	bad := f.Spec
	bad.ValidEnd = bad.ValidStart
	_, err = ses.MakeSealV4(bad, f.MakerKey, f.MakerCert)
	require.ErrorContains(t, err, "validEnd")
}

func TestParseTimeText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"20201010071120Z", "2020-10-10T07:11:20Z"},
		{"20200723130907.763Z", "2020-07-23T13:09:07.763Z"},
		{"200422021807Z", "2020-04-22T02:18:07Z"},
		{"2020-01-25T07:31:56.377Z", "2020-01-25T07:31:56.377Z"},
		{"20201010151120", "2020-10-10T07:11:20Z"}, // no zone: China Standard Time
		{"2021-05-19 20:53:44", "2021-05-19T12:53:44Z"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ses.ParseTimeText(tc.in)
			require.NoError(t, err)
			require.Equal(t, tc.want, got.Format(time.RFC3339Nano))
		})
	}
	_, err := ses.ParseTimeText("yesterday")
	require.Error(t, err)
}

func TestDiagnoseOuter(t *testing.T) {
	tests := []struct {
		file string
		want string
	}{
		{"ses/n_dms360_v1_SignedValue.dat", "no Z, no TBS_Sign"},
		{"ses/keyword_tongz_rawRS_SignedValue.dat", ""},
		{"ses/ofdrw_SignedValueV4.dat", ""},
	}
	for _, tc := range tests {
		t.Run(filepath.Base(tc.file), func(t *testing.T) {
			s, err := ses.ParseSignature(read(t, tc.file))
			require.NoError(t, err)
			got := s.DiagnoseOuter()
			if tc.want == "" {
				require.Empty(t, got)
			} else {
				require.Contains(t, got, tc.want)
			}
		})
	}
}

func TestTimeStamp(t *testing.T) {
	f := sestest.NewFixture(t, false)
	t0 := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	tsa := f.CA.NewTSA(t, t0, t0.AddDate(20, 0, 0))
	at := time.Date(2025, 5, 5, 5, 5, 5, 0, time.UTC)
	covered := []byte("signature value")
	tok, err := tsa.Stamp(covered, at)
	require.NoError(t, err)

	ts, err := ses.VerifyTimeStamp(tok, covered)
	require.NoError(t, err)
	require.Equal(t, at, ts.Info.GenTime)
	require.Equal(t, tsa.Cert.Raw, ts.TSA.Raw)

	_, err = ses.VerifyTimeStamp(tok, []byte("another signature"))
	require.ErrorContains(t, err, "messageImprint")
	for _, i := range []int{len(tok) / 3, len(tok) / 2, len(tok) - 5} {
		bad := bytes.Clone(tok)
		bad[i] ^= 1
		_, err = ses.VerifyTimeStamp(bad, covered)
		require.Error(t, err, "flip at %d", i)
	}
	// A TSA certificate without timeStamping usage is refused.
	plainCert := f.CA.IssueFor(t, &f.SignerKey.PublicKey, "not a TSA", t0, t0.AddDate(20, 0, 0))
	pc, err := smx509.ParseCertificate(plainCert)
	require.NoError(t, err)
	tok2, err := (&sestest.TSA{Key: f.SignerKey, Cert: pc}).Stamp(covered, at)
	require.NoError(t, err)
	_, err = ses.VerifyTimeStamp(tok2, covered)
	require.ErrorContains(t, err, "timeStamping")
}
