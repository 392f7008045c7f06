package ofd_test

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/gxhub/gxhub/certs/ofd"
	"github.com/gxhub/gxhub/certs/sm"
	"github.com/stretchr/testify/require"
)

const ext = "../testdata/external"

func read(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(ext, rel))
	require.NoError(t, err)
	return b
}

func TestRealPackages(t *testing.T) {
	tests := []struct {
		file        string
		refs        int
		checkMethod string
		sealPath    string
	}{
		{"v4signed_gomain_chongqing_tax.ofd", 13, "1.2.156.10197.1.401", ""},
		{"signedFile_gomain_jiangsu_tax.ofd", 0, "1.2.156.10197.1.401", ""},
		{"conv1_gomain_zhejiang_tax.ofd", 0, "1.2.156.10197.1.401", ""},
		{"999_kinggrid_chongqing_test.ofd", 20, "1.2.156.10197.1.401", ""}, // BaseLoc relative to Signatures.xml
		{"SESV4SignDoc_expired_at_signing.ofd", 5, "SM3", "Doc_0/Signs/Sign_0/Seal.esl"},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			pkg, err := ofd.Open(read(t, "ofd/"+tc.file), ofd.Limits{})
			require.NoError(t, err)
			docs, err := pkg.Documents()
			require.NoError(t, err)
			require.Len(t, docs, 1)
			require.Equal(t, "Doc_0/Document.xml", docs[0].Root)
			require.Equal(t, "Doc_0/Signs/Signatures.xml", docs[0].SignaturesPath)
			require.Len(t, docs[0].Signatures, 1)
			s := docs[0].Signatures[0]
			require.Equal(t, "Seal", s.Type)
			require.Equal(t, "Doc_0/Signs/Sign_0/Signature.xml", s.Path)
			require.Equal(t, "Doc_0/Signs/Sign_0/SignedValue.dat", s.SignedValuePath)
			require.Equal(t, tc.sealPath, s.SealPath)
			require.Equal(t, tc.checkMethod, s.CheckMethod)
			if tc.refs > 0 {
				require.Len(t, s.References, tc.refs)
			}
			for _, r := range s.References {
				require.NoError(t, r.Err)
				b, err := pkg.ReadFile(r.Path)
				require.NoError(t, err, r.Path)
				sum := sm.Sum(b)
				require.Equal(t, sum[:], r.CheckValue, r.Path)
			}
		})
	}
}

func TestResolve(t *testing.T) {
	tests := []struct{ from, ref, want, err string }{
		{"Doc_0/Signs/Signatures.xml", "Sign_0/Signature.xml", "Doc_0/Signs/Sign_0/Signature.xml", ""},
		{"Doc_0/Signs/Signatures.xml", "/Doc_0/Signs/Sign_0/Signature.xml", "Doc_0/Signs/Sign_0/Signature.xml", ""},
		{"OFD.xml", "Doc_0/Document.xml", "Doc_0/Document.xml", ""},
		{"Doc_0/Signs/Sign_0/Signature.xml", "../../Pages/Page_0/Content.xml", "Doc_0/Pages/Page_0/Content.xml", ""},
		{"Doc_0/Signs/Sign_0/Signature.xml", "../../../../etc/passwd", "", "leaves the package"},
		{"OFD.xml", "/../x", "", "leaves the package"},
		{"OFD.xml", "a\\b", "", "backslash"},
		{"OFD.xml", " ", "", "empty"},
	}
	for _, tc := range tests {
		t.Run(tc.ref, func(t *testing.T) {
			got, err := ofd.Resolve(tc.from, tc.ref)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

type entry struct {
	name string
	body []byte
}

func mkzip(t *testing.T, entries ...entry) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		// CreateRaw-free path: Create refuses nothing, so hostile names can be written.
		w, err := zw.CreateHeader(&zip.FileHeader{Name: e.name, Method: zip.Deflate})
		require.NoError(t, err)
		_, err = w.Write(e.body)
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

func TestHardening(t *testing.T) {
	ofdXML := entry{"OFD.xml", []byte(`<ofd:OFD xmlns:ofd="http://www.ofdspec.org/2016"><ofd:DocBody><ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot></ofd:DocBody></ofd:OFD>`)}
	big := entry{"Doc_0/big.bin", bytes.Repeat([]byte{0}, 1<<20)}
	tests := []struct {
		name    string
		data    []byte
		limits  ofd.Limits
		openErr string
		readErr string
	}{
		{"traversal", mkzip(t, ofdXML, entry{"../evil", []byte("x")}), ofd.Limits{}, "path traversal", ""},
		{"absolute", mkzip(t, ofdXML, entry{"/etc/x", []byte("x")}), ofd.Limits{}, "absolute", ""},
		{"backslash", mkzip(t, ofdXML, entry{"Doc_0\\x", []byte("x")}), ofd.Limits{}, "backslash", ""},
		{"duplicate", mkzip(t, ofdXML, entry{"Doc_0/a.xml", []byte("1")}, entry{"Doc_0/a.xml", []byte("2")}), ofd.Limits{}, "duplicate", ""},
		{"duplicate by case", mkzip(t, ofdXML, entry{"Doc_0/a.xml", []byte("1")}, entry{"doc_0/A.xml", []byte("2")}), ofd.Limits{}, "differ only in case", ""},
		{"no OFD.xml", mkzip(t, entry{"x.xml", []byte("x")}), ofd.Limits{}, "no OFD.xml", ""},
		{"not a zip", []byte("hello"), ofd.Limits{}, "not a readable zip", ""},
		{"too many entries", mkzip(t, ofdXML, entry{"a", nil}, entry{"b", nil}), ofd.Limits{MaxArchiveSize: 1 << 20, MaxEntries: 2, MaxFileSize: 1 << 20, MaxTotalSize: 1 << 20}, "zip entries", ""},
		{"file too large", mkzip(t, ofdXML, big), ofd.Limits{MaxArchiveSize: 1 << 20, MaxEntries: 10, MaxFileSize: 1 << 19, MaxTotalSize: 1 << 22}, "declares", ""},
		{"total too large", mkzip(t, ofdXML, big), ofd.Limits{MaxArchiveSize: 1 << 20, MaxEntries: 10, MaxFileSize: 1 << 21, MaxTotalSize: 1 << 19}, "zip bomb is refused before anything is decompressed", ""},
		{"more than 16 times the package", mkzip(t, ofdXML, big), ofd.Limits{}, "16 times the package size", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pkg, err := ofd.Open(tc.data, tc.limits)
			if tc.openErr != "" {
				require.ErrorContains(t, err, tc.openErr)
				return
			}
			require.NoError(t, err)
			_, err = pkg.ReadFile("Doc_0/big.bin")
			require.ErrorContains(t, err, tc.readErr)
			require.ErrorIs(t, err, ofd.ErrUnsafe)
		})
	}
}

// bomb is a small zip whose one entry inflates to n zero bytes.
func bomb(t testing.TB, n int) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.Create("OFD.xml")
	require.NoError(t, err)
	_, err = w.Write([]byte(`<ofd:OFD xmlns:ofd="http://www.ofdspec.org/2016"><ofd:DocBody><ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot></ofd:DocBody></ofd:OFD>`))
	require.NoError(t, err)
	w, err = zw.Create("Doc_0/Res/image.png")
	require.NoError(t, err)
	zero := make([]byte, 1<<20)
	for n > 0 {
		k := min(n, len(zero))
		_, err = w.Write(zero[:k])
		require.NoError(t, err)
		n -= k
	}
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

// A zip bomb is refused from its central directory, before anything is decompressed:
// 100 MiB in a package of about 100 KB is far above 16 times its size.
func TestZipBombRefused(t *testing.T) {
	b := bomb(t, 100<<20)
	require.Less(t, len(b), 200<<10)
	_, err := ofd.Open(b, ofd.Limits{})
	require.ErrorIs(t, err, ofd.ErrUnsafe)
	require.ErrorContains(t, err, "zip bomb is refused before anything is decompressed")
	require.ErrorContains(t, err, "16 times the package size")
}

// An entry that declares a small size in the central directory but inflates to more is
// stopped while it is read, at the size it declared.
func TestLyingEntryStoppedWhileReading(t *testing.T) {
	var raw bytes.Buffer
	fw, err := flate.NewWriter(&raw, flate.BestCompression)
	require.NoError(t, err)
	_, err = fw.Write(make([]byte, 8<<20))
	require.NoError(t, err)
	require.NoError(t, fw.Close())
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.Create("OFD.xml")
	require.NoError(t, err)
	_, _ = w.Write([]byte("<ofd:OFD/>"))
	w, err = zw.CreateRaw(&zip.FileHeader{Name: "Doc_0/x.bin", Method: zip.Deflate, CompressedSize64: uint64(raw.Len()), UncompressedSize64: 100, CRC32: 0})
	require.NoError(t, err)
	_, err = w.Write(raw.Bytes())
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	pkg, err := ofd.Open(buf.Bytes(), ofd.Limits{})
	require.NoError(t, err, "the central directory declares 100 bytes")
	_, err = pkg.ReadFile("Doc_0/x.bin")
	require.ErrorIs(t, err, ofd.ErrUnsafe)
	require.ErrorContains(t, err, "more than the 100 bytes it declares")
}

// BenchmarkZipBombRefused measures how fast a 100 MiB zip bomb is refused (docs/BENCHMARKS.md).
func BenchmarkZipBombRefused(b *testing.B) {
	data := bomb(b, 100<<20)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := ofd.Open(data, ofd.Limits{}); !errors.Is(err, ofd.ErrUnsafe) {
			b.Fatal(err)
		}
	}
}

func TestBudget(t *testing.T) {
	l := ofd.DefaultLimits()
	require.Equal(t, int64(1<<20), l.Budget(10<<10), "floor")
	require.Equal(t, int64(16*(200<<10)), l.Budget(200<<10))
	require.Equal(t, int64(64<<20), l.Budget(32<<20), "cap")
	require.Equal(t, int64(64<<20), ofd.Limits{MaxTotalSize: 64 << 20}.Budget(1), "no ratio")
}

// KingGrid files carry bytes before the zip; archive/zip finds the directory anyway.
func TestPrependedBytes(t *testing.T) {
	data := append([]byte("KINGGRID-PREFIX-0123456789"), read(t, "ofd/v4signed_gomain_chongqing_tax.ofd")...)
	pkg, err := ofd.Open(data, ofd.Limits{})
	require.NoError(t, err)
	docs, err := pkg.Documents()
	require.NoError(t, err)
	require.Len(t, docs[0].Signatures, 1)
}

func TestAddSignatureAndRebuild(t *testing.T) {
	src := read(t, "ofd/v4signed_gomain_chongqing_tax.ofd")
	var gotXML []byte
	var gotProp string
	out, err := ofd.AddSignature(src, func(x []byte, prop string) ([]byte, error) {
		gotXML, gotProp = bytes.Clone(x), prop
		return []byte("value"), nil
	}, ofd.SignOptions{Provider: "test", PageRef: "1", Boundary: "10 10 40 40"})
	require.NoError(t, err)
	pkg, err := ofd.Open(out, ofd.Limits{})
	require.NoError(t, err)
	docs, err := pkg.Documents()
	require.NoError(t, err)
	require.Len(t, docs[0].Signatures, 2)
	s := docs[0].Signatures[1]
	require.Equal(t, "/"+s.Path, gotProp)
	require.Equal(t, gotXML, s.XML)
	v, err := pkg.ReadFile(s.SignedValuePath)
	require.NoError(t, err)
	require.Equal(t, []byte("value"), v)
	require.NotEmpty(t, s.References)
	for _, r := range s.References {
		b, err := pkg.ReadFile(r.Path)
		require.NoError(t, err)
		sum := sm.Sum(b)
		require.Equal(t, sum[:], r.CheckValue, r.Path)
	}
	// The first signature's files are untouched.
	old, err := pkg.ReadFile("Doc_0/Signs/Sign_0/SignedValue.dat")
	require.NoError(t, err)
	orig, _ := ofd.Open(src, ofd.Limits{})
	want, _ := orig.ReadFile("Doc_0/Signs/Sign_0/SignedValue.dat")
	require.Equal(t, want, old)

	re, err := ofd.Rebuild(src, map[string][]byte{"OFD.xml": []byte("<x/>")})
	require.NoError(t, err)
	p2, err := ofd.Open(re, ofd.Limits{})
	require.NoError(t, err)
	b, err := p2.ReadFile("OFD.xml")
	require.NoError(t, err)
	require.Equal(t, "<x/>", string(b))
}

// seedOFDs adds every real OFD of the test data to a fuzz corpus.
func seedOFDs(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(ext, "ofd/*.ofd"))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

func FuzzOpenOFD(f *testing.F) {
	seedOFDs(f)
	f.Add([]byte("PK\x05\x06" + string(make([]byte, 18))))
	f.Fuzz(func(t *testing.T, b []byte) {
		pkg, err := ofd.Open(b, ofd.Limits{MaxArchiveSize: 1 << 22, MaxEntries: 100, MaxFileSize: 1 << 20, MaxTotalSize: 1 << 22})
		if err != nil {
			return
		}
		docs, err := pkg.Documents()
		if err != nil {
			return
		}
		for _, d := range docs {
			for _, s := range d.Signatures {
				for _, r := range s.References {
					if r.Err == nil {
						_, _ = pkg.ReadFile(r.Path)
					}
				}
				_, _ = pkg.ReadFile(s.SignedValuePath)
			}
		}
	})
}
