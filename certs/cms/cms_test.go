package cms_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/emmansun/gmsm/pkcs7"
	"github.com/emmansun/gmsm/smx509"
	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/certs/cms"
	"github.com/gxhub/gxhub/certs/ofd"
	"github.com/gxhub/gxhub/certs/ses/sestest"
)

const gomain = "../testdata/external/ofd/gbt35275_gomain_yunnan_pathclip.ofd"

func gomainSignature(t testing.TB, n string) (sv, xml []byte) {
	b, err := os.ReadFile(gomain)
	require.NoError(t, err)
	pkg, err := ofd.Open(b, ofd.Limits{})
	require.NoError(t, err)
	sv, err = pkg.ReadFile("Doc_0/Signs/Sign_" + n + "/SignedValue.dat")
	require.NoError(t, err)
	xml, err = pkg.ReadFile("Doc_0/Signs/Sign_" + n + "/Signature.xml")
	require.NoError(t, err)
	return sv, xml
}

// The real gomain GB/T 35275 signatures: detached, SM3/SM2, signed attributes with
// contentType (GM data), messageDigest = SM3(Signature.xml) and signingTime.
func TestRealGBT35275(t *testing.T) {
	for _, n := range []string{"0", "1"} {
		sv, xml := gomainSignature(t, n)
		require.True(t, cms.LooksLike(sv))
		sd, err := cms.Parse(sv)
		require.NoError(t, err)
		require.True(t, sd.GM)
		require.Nil(t, sd.EContent)
		require.True(t, cms.IsData(sd.EContentType))
		require.Len(t, sd.Signers, 1)
		si := &sd.Signers[0]
		require.NoError(t, cms.CheckAlgorithms(si))
		c, err := sd.SignerCertificate(si)
		require.NoError(t, err)
		require.Contains(t, c.Subject, "一部手机办事通设备证书")
		_, err = si.MessageDigest(xml)
		require.NoError(t, err)
		_, err = si.MessageDigest(append(bytes.Clone(xml), ' '))
		require.ErrorContains(t, err, "changed after signing")
		ct, found, err := si.ContentType()
		require.NoError(t, err)
		require.True(t, found)
		require.True(t, ct.Equal(cms.OIDGMData))
		at, found, err := si.SigningTime()
		require.NoError(t, err)
		require.True(t, found)
		require.Equal(t, time.Date(2022, 11, 16, 11, 20, 58, 0, time.UTC), at)
		require.NoError(t, si.VerifySignature(c, xml))
		// The signed attributes as received, retagged as a SET.
		require.Equal(t, byte(0x31), si.SignedMessage(xml)[0])
		bad := bytes.Clone(sv)
		bad[len(bad)-5] ^= 1
		sd2, err := cms.Parse(bad)
		require.NoError(t, err)
		require.Error(t, sd2.Signers[0].VerifySignature(c, xml))
		_, found, err = si.TimeStampToken()
		require.NoError(t, err)
		require.False(t, found)
	}
}

// gmsm's pkcs7 (an independent producer) makes SignedData with and without signed
// attributes; both check out here.
func TestGmsmSignedData(t *testing.T) {
	f := sestest.NewFixture(t, false)
	cert, err := smx509.ParseCertificate(f.SignerCert)
	require.NoError(t, err)
	content := []byte("content")
	for _, attrs := range []bool{true, false} {
		p, err := pkcs7.NewSMSignedData(content)
		require.NoError(t, err)
		if attrs {
			require.NoError(t, p.AddSigner(cert, f.SignerKey, pkcs7.SignerInfoConfig{}))
		} else {
			require.NoError(t, p.SignWithoutAttr(cert, f.SignerKey, pkcs7.SignerInfoConfig{}))
		}
		der, err := p.Finish()
		require.NoError(t, err)
		sd, err := cms.Parse(der)
		require.NoError(t, err)
		require.Equal(t, content, sd.EContent)
		si := &sd.Signers[0]
		require.Equal(t, attrs, si.SignedAttrsRaw != nil)
		c, err := sd.SignerCertificate(si)
		require.NoError(t, err)
		require.NoError(t, si.VerifySignature(c, content))
		if attrs { // the signature covers the attributes, which bind the content's digest
			_, err = si.MessageDigest(content)
			require.NoError(t, err)
			_, err = si.MessageDigest([]byte("other"))
			require.Error(t, err)
		} else {
			require.Error(t, si.VerifySignature(c, []byte("other")))
		}
	}
}

func TestBareSignatureAndJunk(t *testing.T) {
	sv, _ := gomainSignature(t, "0")
	sd, err := cms.Parse(sv)
	require.NoError(t, err)
	require.True(t, cms.IsBareSM2Signature(sd.Signers[0].Signature))
	require.True(t, cms.IsBareSM2Signature(make([]byte, 64)))
	require.False(t, cms.IsBareSM2Signature(sv))
	for _, in := range [][]byte{nil, {0x30}, {0x30, 0x03, 0x06, 0x01, 0x00}, sv[:len(sv)-1], append(bytes.Clone(sv), 0)} {
		_, err := cms.Parse(in)
		require.Error(t, err)
	}
	_, err = cms.Parse([]byte{0x30, 0x0b, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x03}) // envelopedData
	require.ErrorIs(t, err, cms.ErrUnsupported)
}

// FuzzParse: arbitrary DER never panics, and whatever parses can be asked every question.
func FuzzParse(f *testing.F) {
	for _, n := range []string{"0", "1"} {
		sv, _ := gomainSignature(f, n)
		f.Add(sv)
	}
	files, _ := filepath.Glob("../testdata/external/ses/*.dat")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		sd, err := cms.Parse(b)
		if err != nil {
			return
		}
		for i := range sd.Signers {
			si := &sd.Signers[i]
			_ = cms.CheckAlgorithms(si)
			_, _, _ = si.ContentType()
			_, _, _ = si.SigningTime()
			_, _, _ = si.TimeStampToken()
			_, _ = si.MessageDigest(b)
			if c, err := sd.SignerCertificate(si); err == nil {
				_ = si.VerifySignature(c, b)
				_ = sd.Others(c)
			}
		}
	})
}
