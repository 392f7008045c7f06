package ofd_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/certs/ofd"
)

func roles(r *ofd.Rendering) map[string]string {
	m := map[string]string{}
	for _, p := range r.Parts {
		m[p.Path] = p.Role
	}
	return m
}

// What a reader reaches from OFD.xml in real vendor files: document roots, templates,
// pages, resources with their fonts and images, annotations, attachments and custom tags.
func TestRenderedRealPackages(t *testing.T) {
	tests := []struct {
		file string
		want map[string]string
	}{
		{"999_kinggrid_chongqing_test.ofd", map[string]string{
			"Doc_0/Document.xml": "document root of DocBody 0", "Doc_0/Tpls/Tpl_4/Content.xml": "template 628",
			"Doc_0/Pages/Page_4/Content.xml": "page 5", "Doc_0/Res/qrcode.png": "image 6",
			"Doc_0/Annots/Page_0/Annotation.xml": "annotations of page ID 10", "Doc_0/Attachs/original_invoice.xml": `attachment "original_invoice"`,
			"Doc_0/Tags/Tag_Invoice.xml": `custom tags "" (document metadata)`}},
		// Document.xml names "TPLS/Tpl_0": found as "Tpls/Tpl_0" (case-insensitively).
		{"v4signed_gomain_chongqing_tax.ofd", map[string]string{"Doc_0/Tpls/Tpl_0/Content.xml": "template 2", "Doc_0/Res/qr.png": "image 106"}},
		{"gbt35275_gomain_yunnan_pathclip.ofd", map[string]string{
			"Doc_0/Document_0.xml": "document root of DocBody 0", "Doc_0/Res/font_30.ttf": "font 30 (SimHei)",
			"Doc_0/Res/image_87.PNG": "image 87", "Doc_0/TPLS/TPL_0/Content.xml": "template 2"}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			pkg, err := ofd.Open(read(t, "ofd/"+tc.file), ofd.Limits{})
			require.NoError(t, err)
			r := pkg.Rendered()
			require.Empty(t, r.Unread)
			require.Empty(t, r.Problems)
			require.Len(t, r.Bodies, 1)
			got := roles(r)
			for p, role := range tc.want {
				require.Equal(t, role, got[p], p)
			}
			// Signatures are not content.
			for p := range got {
				require.NotContains(t, p, "/Signs/")
			}
		})
	}
	// gomain's Document.xml (an older document root) is not shown.
	pkg, err := ofd.Open(read(t, "ofd/gbt35275_gomain_yunnan_pathclip.ofd"), ofd.Limits{})
	require.NoError(t, err)
	require.False(t, pkg.Rendered().Has("Doc_0/Document.xml"))
}

func TestRenderedReferences(t *testing.T) {
	ofdXML := `<ofd:OFD xmlns:ofd="http://www.ofdspec.org/2016"><ofd:DocBody><ofd:DocInfo><ofd:Cover>/Doc_0/cover.png</ofd:Cover></ofd:DocInfo>` +
		`<ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot><ofd:Signatures>Doc_0/Signs/Signatures.xml</ofd:Signatures></ofd:DocBody>` +
		`<ofd:DocBody><ofd:DocRoot>Doc_1/Document.xml</ofd:DocRoot><ofd:DocRoot>Doc_2/Document.xml</ofd:DocRoot></ofd:DocBody><ofd:DocRoot>Doc_3/Document.xml</ofd:DocRoot></ofd:OFD>`
	doc := `<ofd:Document xmlns:ofd="x"><ofd:CommonData><ofd:PublicRes>PublicRes.xml</ofd:PublicRes></ofd:CommonData>` +
		`<ofd:Pages><ofd:Page ID="1" BaseLoc="Pages/Page_0/Content.xml"/></ofd:Pages><ofd:Extensions>Ext.xml</ofd:Extensions></ofd:Document>`
	data := mkzip(t,
		entry{"OFD.xml", []byte(ofdXML)},
		entry{"Doc_0/cover.png", []byte("png")},
		entry{"Doc_0/Document.xml", []byte(doc)},
		entry{"Doc_0/PublicRes.xml", []byte(`<ofd:Res BaseLoc="/Doc_0/Fonts"><ofd:Fonts><ofd:Font ID="3" FontName="宋体"><ofd:FontFile>f.ttf</ofd:FontFile></ofd:Font></ofd:Fonts><ofd:ColorSpaces><ofd:ColorSpace ID="4" Profile="icc.icm"/></ofd:ColorSpaces></ofd:Res>`)},
		entry{"Doc_0/Fonts/f.ttf", []byte("ttf")},
		entry{"Doc_0/Fonts/icc.icm", []byte("icc")},
		entry{"Doc_0/Pages/Page_0/Content.xml", []byte(`<ofd:Page><ofd:PageRes>../../PageRes.xml</ofd:PageRes><ofd:Content><ofd:TextObject><ofd:TextCode>Doc_0/secret.bin</ofd:TextCode></ofd:TextObject><ofd:Vendor Ref="/Doc_0/vendor.dat"/></ofd:Content></ofd:Page>`)},
		entry{"Doc_0/PageRes.xml", []byte(`<ofd:Res><ofd:MultiMedias><ofd:MultiMedia ID="5" Type="Image"><ofd:MediaFile>img.png</ofd:MediaFile></ofd:MultiMedia></ofd:MultiMedias></ofd:Res>`)},
		entry{"Doc_0/img.png", []byte("png")},
		entry{"Doc_0/vendor.dat", []byte("v")},
		entry{"Doc_0/secret.bin", []byte("s")},
		entry{"Doc_0/Ext.xml", []byte(`<ofd:Extensions><ofd:Extension><ofd:ExtendData>ext.bin</ofd:ExtendData></ofd:Extension></ofd:Extensions>`)},
		entry{"Doc_0/ext.bin", []byte("e")},
		entry{"Doc_0/Signs/Signatures.xml", []byte(`<ofd:Signatures/>`)},
		entry{"Doc_1/Document.xml", []byte(`<ofd:Document><ofd:Pages><ofd:Page ID="1" BaseLoc="missing.xml"/></ofd:Pages></ofd:Document>`)},
		entry{"Doc_2/Document.xml", []byte(`<ofd:Document><broken`)},
		entry{"Doc_3/Document.xml", []byte(`<ofd:Document/>`)},
	)
	pkg, err := ofd.Open(data, ofd.Limits{})
	require.NoError(t, err)
	r := pkg.Rendered()
	got := roles(r)
	require.Equal(t, "font 3 (宋体)", got["Doc_0/Fonts/f.ttf"])
	require.Equal(t, "colour profile 4", got["Doc_0/Fonts/icc.icm"])
	require.Equal(t, "resources of page 1", got["Doc_0/PageRes.xml"])
	require.Equal(t, "image 5", got["Doc_0/img.png"])
	require.Equal(t, "file named in OFD.xml", got["Doc_0/cover.png"])
	require.Equal(t, "file named in Doc_0/Pages/Page_0/Content.xml", got["Doc_0/vendor.dat"], "vendor references count")
	require.Equal(t, "file named in Doc_0/Ext.xml", got["Doc_0/ext.bin"])
	require.NotContains(t, got, "Doc_0/secret.bin", "rendered text is not a reference")
	require.NotContains(t, got, "Doc_0/Signs/Signatures.xml")
	require.Equal(t, "document root of DocBody 1", got["Doc_2/Document.xml"], "every DocRoot is reached")
	require.Len(t, r.Problems, 2)
	require.Contains(t, r.Problems[0], "DocBody 1 has 2 DocRoot elements")
	require.Contains(t, r.Problems[1], "1 DocRoot element(s) outside a DocBody")
	require.Equal(t, "document root outside a DocBody", got["Doc_3/Document.xml"])
	require.Len(t, r.Missing, 1)
	require.Equal(t, "Doc_1/missing.xml", r.Missing[0].Path)
	require.Len(t, r.Unread, 1)
	require.Equal(t, "Doc_2/Document.xml", r.Unread[0].Path)
	require.Equal(t, "Doc_0/Signs/Signatures.xml", r.Bodies[0].Signatures)
	require.Equal(t, []string{"Doc_1/Document.xml", "Doc_2/Document.xml"}, r.Bodies[1].DocRoots)
}

// FuzzRendered walks arbitrary packages: never a panic, every part exists in the package.
func FuzzRendered(f *testing.F) {
	seedOFDs(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		pkg, err := ofd.Open(b, ofd.Limits{MaxArchiveSize: 1 << 22, MaxEntries: 100, MaxFileSize: 1 << 20, MaxTotalSize: 1 << 22, MaxRatio: 16, RatioFloor: 1 << 20})
		if err != nil {
			return
		}
		r := pkg.Rendered()
		for _, p := range r.Parts {
			if !pkg.Has(p.Path) {
				t.Fatalf("part %s not in the package", p.Path)
			}
		}
	})
}
