package ecert

import (
	"bytes"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/certs/ofd"
)

// A licence laid out as a GB/T 36905 OFD: the page shows every field of the metadata, the
// custom tag carries the metadata and points at the text objects, and the reader's walk
// reaches the tag file (so a signature must cover it).
func TestLicenceOFD(t *testing.T) {
	cat, m := newLicence(t)
	b, err := NewLicenceOFD(m, cat)
	require.NoError(t, err)
	pkg, err := ofd.Open(b, ofd.Limits{})
	require.NoError(t, err)
	rend := pkg.Rendered()
	require.Empty(t, rend.Unread)
	require.True(t, rend.Has("Doc_0/Tags/Licence.xml"))
	require.True(t, rend.Has("Doc_0/Pages/Page_0/Content.xml"))
	tag, err := pkg.ReadFile("Doc_0/Tags/Licence.xml")
	require.NoError(t, err)
	lf, err := ParseLicenceTag(tag)
	require.NoError(t, err)
	require.Equal(t, m, lf.Metadata)
	require.Empty(t, lf.CheckFace(pkg.Text))
	ofdXML, err := pkg.ReadFile("OFD.xml")
	require.NoError(t, err)
	require.Contains(t, string(ofdXML), `<ofd:CustomData Name="ZZBS">`+m.Identifier+`</ofd:CustomData>`)

	// What the page shows must be the metadata: a changed holder name on the page, or in the
	// tag's field list, is reported.
	page, err := pkg.ReadFile("Doc_0/Pages/Page_0/Content.xml")
	require.NoError(t, err)
	forged, err := ofd.Rebuild(b, map[string][]byte{"Doc_0/Pages/Page_0/Content.xml": bytes.Replace(page, []byte(m.HolderName), []byte("冒名顶替有限公司"), 1)})
	require.NoError(t, err)
	fp, err := ofd.Open(forged, ofd.Limits{})
	require.NoError(t, err)
	probs := lf.CheckFace(fp.Text)
	require.Len(t, probs, 1)
	require.Contains(t, probs[0], "冒名顶替有限公司")

	lf.Fields[0].Value = "其他"
	require.NotEmpty(t, lf.CheckFace(pkg.Text))

	bad := *m
	bad.Number = ""
	_, err = NewLicenceOFD(&bad, cat)
	require.Error(t, err, "only valid metadata is laid out")

	_, err = ParseLicenceTag([]byte(`<?xml version="1.0"?><fp:eInvoice xmlns:fp="x"/>`))
	require.True(t, errors.Is(err, ErrNotLicence))
	_, err = ParseLicenceTag([]byte(`<Licence xmlns="` + LicenceTagNS + `" Version="1"><Metadata>{"unknown":1}</Metadata></Licence>`))
	require.ErrorContains(t, err, "unknown field")
}

// FuzzParseLicenceTag: licence custom tags in OFD files given to the verifier never panic
// the parser, and what parses can be compared with any page.
func FuzzParseLicenceTag(f *testing.F) {
	f.Add([]byte(`<Licence xmlns="` + LicenceTagNS + `" Version="1"><Metadata>{"certificate_identifier":"x"}</Metadata><Field Code="ZZBS"><Value>x</Value><ObjectRef PageRef="1">5</ObjectRef></Field></Licence>`))
	f.Add([]byte(`<?xml version="1.0" encoding="UTF-8"?><fp:eInvoice xmlns:fp="http://www.edrm.org.cn/schema/e-invoice/2019"/>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		lf, err := ParseLicenceTag(b)
		if err != nil {
			return
		}
		_ = lf.CheckFace(func(string, string) (string, bool) { return "", false })
	})
}
