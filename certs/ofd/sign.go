package ofd

import (
	"archive/zip"
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/gxhub/gxhub/certs/sm"
)

// Signer produces the SignedValue (an SES_Signature) for the exact Signature.xml bytes;
// propertyInfo is the absolute package path of that Signature.xml.
type Signer func(signatureXML []byte, propertyInfo string) ([]byte, error)

// SignOptions describe a signature to add.
type SignOptions struct {
	Provider string    // SignedInfo/Provider ProviderName
	Time     time.Time // SignatureDateTime (informative; the signed time is in the SES_Signature)
	// StampAnnot places the seal picture: page ID and boundary "x y w h" in mm (optional).
	PageRef  string
	Boundary string
	// SealLoc, when set, names the Seal.esl file the Signature.xml points to (optional).
	SealLoc string
	Limits  Limits
}

var docBodyEnd = regexp.MustCompile(`</([A-Za-z_][A-Za-z0-9_.-]*:)?DocBody>`)

// AddSignature adds a seal signature (Type="Seal") to the first document of an OFD package
// and returns the new package. It references every file of the package with its SM3
// digest (including OFD.xml, after adding a Signatures entry to it when missing, and the
// files of earlier signatures, so that a later seal attests to them) except the signature
// list Signatures.xml, which every later signature rewrites; it writes Signature.xml, signs
// it with sign and stores the result as SignedValue.dat. Earlier signatures keep every file
// they reference unchanged, so they stay valid.
func AddSignature(data []byte, sign Signer, opts SignOptions) ([]byte, error) {
	pkg, err := Open(data, opts.Limits)
	if err != nil {
		return nil, err
	}
	docs, err := pkg.Documents()
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{}
	for _, n := range pkg.Names() {
		if files[n], err = pkg.ReadFile(n); err != nil {
			return nil, err
		}
	}
	doc := docs[0]
	sigsPath := doc.SignaturesPath
	if sigsPath == "" {
		sigsPath = path.Join(path.Dir(doc.Root), "Signs", "Signatures.xml")
		ofdXML := string(files["OFD.xml"])
		m := docBodyEnd.FindStringSubmatchIndex(ofdXML)
		if m == nil {
			return nil, errors.New("OFD.xml has no </DocBody> to add the Signatures entry to")
		}
		prefix := ofdXML[m[2]:m[3]]
		files["OFD.xml"] = []byte(ofdXML[:m[0]] + "<" + prefix + "Signatures>" + sigsPath + "</" + prefix + "Signatures>" + ofdXML[m[0]:])
	}
	signsDir := path.Dir(sigsPath)
	n := len(doc.Signatures)
	for files[path.Join(signsDir, fmt.Sprintf("Sign_%d", n), "Signature.xml")] != nil {
		n++
	}
	signDir := path.Join(signsDir, fmt.Sprintf("Sign_%d", n))
	sigPath := path.Join(signDir, "Signature.xml")
	valuePath := path.Join(signDir, "SignedValue.dat")

	var names []string
	for name := range files {
		if name != sigsPath {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	if opts.Time.IsZero() {
		opts.Time = time.Now()
	}
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	b.WriteString(`<ofd:Signature xmlns:ofd="http://www.ofdspec.org/2016"><ofd:SignedInfo>`)
	fmt.Fprintf(&b, `<ofd:Provider ProviderName="%s" Version="1.0" Company="gxhub"/>`, xmlEscape(opts.Provider))
	b.WriteString(`<ofd:SignatureMethod>1.2.156.10197.1.501</ofd:SignatureMethod>`)
	fmt.Fprintf(&b, `<ofd:SignatureDateTime>%s</ofd:SignatureDateTime>`, opts.Time.UTC().Format("20060102150405Z"))
	b.WriteString(`<ofd:References CheckMethod="1.2.156.10197.1.401">`)
	for _, name := range names {
		sum := sm.Sum(files[name])
		fmt.Fprintf(&b, `<ofd:Reference FileRef="/%s"><ofd:CheckValue>%s</ofd:CheckValue></ofd:Reference>`, xmlEscape(name), base64.StdEncoding.EncodeToString(sum[:]))
	}
	b.WriteString(`</ofd:References>`)
	if opts.PageRef != "" && opts.Boundary != "" {
		fmt.Fprintf(&b, `<ofd:StampAnnot ID="%d" PageRef="%s" Boundary="%s"/>`, n+1, xmlEscape(opts.PageRef), xmlEscape(opts.Boundary))
	}
	if opts.SealLoc != "" {
		fmt.Fprintf(&b, `<ofd:Seal><ofd:BaseLoc>%s</ofd:BaseLoc></ofd:Seal>`, xmlEscape(opts.SealLoc))
	}
	fmt.Fprintf(&b, `</ofd:SignedInfo><ofd:SignedValue>/%s</ofd:SignedValue></ofd:Signature>`, valuePath)
	sigXML := b.Bytes()
	value, err := sign(sigXML, "/"+sigPath)
	if err != nil {
		return nil, fmt.Errorf("sign %s: %w", sigPath, err)
	}
	files[sigPath] = sigXML
	files[valuePath] = value

	// Signatures.xml: rewrite with every entry (existing ones kept as they were).
	var l bytes.Buffer
	l.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	fmt.Fprintf(&l, `<ofd:Signatures xmlns:ofd="http://www.ofdspec.org/2016"><ofd:MaxSignId>%d</ofd:MaxSignId>`, len(doc.Signatures)+1)
	for i, s := range doc.Signatures {
		fmt.Fprintf(&l, `<ofd:Signature ID="%s" Type="%s" BaseLoc="/%s"/>`, xmlEscape(orDefault(s.ID, fmt.Sprint(i+1))), xmlEscape(s.Type), xmlEscape(s.Path))
	}
	fmt.Fprintf(&l, `<ofd:Signature ID="%d" Type="Seal" BaseLoc="/%s"/></ofd:Signatures>`, len(doc.Signatures)+1, sigPath)
	files[sigsPath] = l.Bytes()
	return writeZip(files, append(pkg.Names(), missing(pkg, sigsPath, sigPath, valuePath)...))
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func missing(pkg *Package, names ...string) []string {
	var out []string
	for _, n := range names {
		if !pkg.Has(n) {
			out = append(out, n)
		}
	}
	return out
}

func xmlEscape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// Pack writes an OFD package (a zip, deflated) holding files in the given order.
func Pack(order []string, files map[string][]byte) ([]byte, error) { return writeZip(files, order) }

// writeZip writes files in the given order (deflated).
func writeZip(files map[string][]byte, order []string) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	seen := map[string]bool{}
	for _, n := range order {
		if seen[n] {
			continue
		}
		seen[n] = true
		w, err := zw.Create(n)
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(files[n]); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Rebuild returns a copy of the package with some files replaced (or added), keeping the
// order of the others. It is meant for tools and tests that derive packages.
func Rebuild(data []byte, replace map[string][]byte) ([]byte, error) {
	pkg, err := Open(data, Limits{})
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{}
	order := pkg.Names()
	for _, n := range order {
		if files[n], err = pkg.ReadFile(n); err != nil {
			return nil, err
		}
	}
	for n, b := range replace {
		if _, ok := files[n]; !ok {
			order = append(order, n)
		}
		files[n] = b
	}
	return writeZip(files, order)
}
