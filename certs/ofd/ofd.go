// Package ofd reads the OFD container of GB/T 33190 far enough to verify its signatures:
// the zip package, OFD.xml → DocBody → Signatures.xml → each Signature.xml with its
// References (FileRef + base64 SM3 CheckValue), SignedValue and Seal locations.
//
// The zip reader is hardened for hostile input: limits on entry count, per-file and total
// uncompressed size (enforced while reading, not trusted from headers), rejection of path
// traversal, absolute and backslash names, and of duplicate entry names. Bytes prepended
// before the zip (seen in KingGrid files) are tolerated by archive/zip.
package ofd

import (
	"archive/zip"
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
)

// Limits bound the resources an OFD package may use.
type Limits struct {
	MaxArchiveSize int64 // bytes of the zip itself
	MaxEntries     int   // number of zip entries
	MaxFileSize    int64 // uncompressed bytes of one entry
	MaxTotalSize   int64 // uncompressed bytes read from the package in total
}

// DefaultLimits suit e-licences and invoices (a few MB) with a wide margin.
func DefaultLimits() Limits {
	return Limits{MaxArchiveSize: 256 << 20, MaxEntries: 10000, MaxFileSize: 64 << 20, MaxTotalSize: 512 << 20}
}

// ErrUnsafe is wrapped by errors about a package that breaks a hardening rule.
var ErrUnsafe = errors.New("unsafe OFD package")

// Package is an opened OFD zip.
type Package struct {
	files  map[string]*zip.File
	names  []string
	limits Limits
	read   int64
}

// Open opens an OFD package held in memory.
func Open(data []byte, lim Limits) (*Package, error) {
	if lim == (Limits{}) {
		lim = DefaultLimits()
	}
	if int64(len(data)) > lim.MaxArchiveSize {
		return nil, fmt.Errorf("%w: package is %d bytes, above the %d-byte limit", ErrUnsafe, len(data), lim.MaxArchiveSize)
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("OFD package is not a readable zip: %w", err)
	}
	if len(zr.File) > lim.MaxEntries {
		return nil, fmt.Errorf("%w: %d zip entries, above the limit of %d", ErrUnsafe, len(zr.File), lim.MaxEntries)
	}
	p := &Package{files: make(map[string]*zip.File, len(zr.File)), limits: lim}
	folded := make(map[string]string, len(zr.File))
	for _, f := range zr.File {
		name, err := cleanEntryName(f.Name)
		if err != nil {
			return nil, err
		}
		if strings.HasSuffix(f.Name, "/") {
			continue // directory entry
		}
		if _, dup := p.files[name]; dup {
			return nil, fmt.Errorf("%w: duplicate zip entry %q (two different contents could be shown and verified)", ErrUnsafe, name)
		}
		if other, dup := folded[strings.ToLower(name)]; dup {
			return nil, fmt.Errorf("%w: zip entries %q and %q differ only in case (a case-insensitive reader would show one of them)", ErrUnsafe, other, name)
		}
		folded[strings.ToLower(name)] = name
		if f.UncompressedSize64 > uint64(lim.MaxFileSize) {
			return nil, fmt.Errorf("%w: entry %q declares %d bytes, above the %d-byte limit", ErrUnsafe, name, f.UncompressedSize64, lim.MaxFileSize)
		}
		p.files[name] = f
		p.names = append(p.names, name)
	}
	if _, ok := p.files["OFD.xml"]; !ok {
		return nil, errors.New("OFD package has no OFD.xml at its root; is this an OFD file?")
	}
	return p, nil
}

func cleanEntryName(n string) (string, error) {
	switch {
	case n == "" || strings.ContainsAny(n, "\\\x00"):
		return "", fmt.Errorf("%w: zip entry name %q is empty or holds a backslash or NUL", ErrUnsafe, n)
	case strings.HasPrefix(n, "/"):
		return "", fmt.Errorf("%w: zip entry name %q is absolute", ErrUnsafe, n)
	}
	for _, seg := range strings.Split(strings.TrimSuffix(n, "/"), "/") {
		if seg == ".." || seg == "." || seg == "" {
			return "", fmt.Errorf("%w: zip entry name %q has a '..', '.' or empty segment (path traversal)", ErrUnsafe, n)
		}
	}
	return strings.TrimSuffix(n, "/"), nil
}

// Names lists the files of the package (package-relative, no leading slash), in zip order.
func (p *Package) Names() []string { return append([]string(nil), p.names...) }

// Has reports whether the package holds the file.
func (p *Package) Has(name string) bool { _, ok := p.files[name]; return ok }

// ReadFile returns the bytes of a package file (package-relative name, no leading slash),
// enforcing the size limits while decompressing.
func (p *Package) ReadFile(name string) ([]byte, error) {
	f, ok := p.files[name]
	if !ok {
		return nil, fmt.Errorf("OFD package has no file %q", name)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("open %q in the package: %w", name, err)
	}
	defer rc.Close()
	limit := p.limits.MaxFileSize
	if rest := p.limits.MaxTotalSize - p.read; rest < limit {
		limit = rest
	}
	b, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %q in the package: %w", name, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w: %q decompresses beyond the size limit (zip bomb?)", ErrUnsafe, name)
	}
	p.read += int64(len(b))
	return b, nil
}

// Resolve turns a path found in the package file `from` into a package-relative name:
// an absolute path ("/Doc_0/...") is taken from the package root, a relative one from the
// directory of `from` (GB/T 33190 §7.2). ".." may not climb above the root.
func Resolve(from, ref string) (string, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return "", errors.New("empty path reference")
	}
	if strings.ContainsAny(ref, "\\\x00") {
		return "", fmt.Errorf("%w: path reference %q holds a backslash or NUL", ErrUnsafe, ref)
	}
	var full string
	if strings.HasPrefix(ref, "/") {
		full = ref
	} else {
		full = "/" + path.Join(path.Dir(from), ref)
	}
	// Check for climbing above the root before cleaning hides it.
	depth := 0
	for _, seg := range strings.Split(strings.TrimPrefix(full, "/"), "/") {
		switch seg {
		case "..":
			depth--
		case ".", "":
		default:
			depth++
		}
		if depth < 0 {
			return "", fmt.Errorf("%w: path reference %q leaves the package", ErrUnsafe, ref)
		}
	}
	return strings.TrimPrefix(path.Clean(full), "/"), nil
}

// resolveExisting resolves ref from `from`; when a relative reference does not exist there
// but does from the package root (a common vendor habit), the root reading is used.
func (p *Package) resolveExisting(from, ref string) (string, error) {
	name, err := Resolve(from, ref)
	if err != nil {
		return "", err
	}
	if !p.Has(name) && !strings.HasPrefix(strings.TrimSpace(ref), "/") {
		if alt, err := Resolve("", ref); err == nil && p.Has(alt) {
			return alt, nil
		}
	}
	return name, nil
}

type ofdXML struct {
	DocBodies []struct {
		DocRoot    string `xml:"DocRoot"`
		Signatures string `xml:"Signatures"`
	} `xml:"DocBody"`
}

type signaturesXML struct {
	Signatures []struct {
		ID      string `xml:"ID,attr"`
		Type    string `xml:"Type,attr"`
		BaseLoc string `xml:"BaseLoc,attr"`
	} `xml:"Signature"`
}

type signatureXML struct {
	SignedInfo struct {
		Provider struct {
			ProviderName string `xml:"ProviderName,attr"`
			Company      string `xml:"Company,attr"`
			Version      string `xml:"Version,attr"`
			Name         string `xml:"ProviderName"`
		} `xml:"Provider"`
		SignatureMethod   string `xml:"SignatureMethod"`
		SignatureDateTime string `xml:"SignatureDateTime"`
		References        struct {
			CheckMethod string `xml:"CheckMethod,attr"`
			Reference   []struct {
				FileRef    string `xml:"FileRef,attr"`
				CheckValue string `xml:"CheckValue"`
			} `xml:"Reference"`
		} `xml:"References"`
		Seal struct {
			BaseLoc string `xml:"BaseLoc"`
		} `xml:"Seal"`
	} `xml:"SignedInfo"`
	SignedValue string `xml:"SignedValue"`
}

// Reference is one SignedInfo/References/Reference.
type Reference struct {
	FileRef    string // as written
	Path       string // resolved package-relative name
	CheckValue []byte // decoded digest
	// Err is set when the reference cannot be used (bad base64, path leaving the package).
	Err error
}

// Signature is one signature of a document: its Signatures.xml entry and Signature.xml.
type Signature struct {
	ID       string
	Type     string // "Seal" (default) or "Sign"
	Path     string // package-relative path of Signature.xml
	XML      []byte // exact bytes of Signature.xml (what TBS_Sign.dataHash covers)
	Provider string
	Method   string // SignatureMethod
	DateTime string // SignatureDateTime as written (free-form, not itself signed as a time)
	// CheckMethod is the References CheckMethod ("1.2.156.10197.1.401", "SM3", ...).
	CheckMethod     string
	References      []Reference
	SignedValuePath string // package-relative path of the SES_Signature (SignedValue.dat)
	SealPath        string // package-relative path of Seal.esl, if given
}

// Document is one DocBody with its signatures.
type Document struct {
	Root           string // package-relative DocRoot
	SignaturesPath string // package-relative Signatures.xml, "" when unsigned
	Signatures     []*Signature
}

func decodeXML(b []byte, v any, what string) error {
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	d.CharsetReader = func(label string, r io.Reader) (io.Reader, error) {
		if strings.EqualFold(label, "utf-8") || strings.EqualFold(label, "utf8") {
			return r, nil
		}
		return nil, fmt.Errorf("unsupported XML encoding %q (OFD uses UTF-8)", label)
	}
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("%s is not well-formed XML: %w", what, err)
	}
	return nil
}

// Documents reads OFD.xml and, for every DocBody, its Signatures.xml and Signature.xml files.
func (p *Package) Documents() ([]*Document, error) {
	b, err := p.ReadFile("OFD.xml")
	if err != nil {
		return nil, err
	}
	var o ofdXML
	if err := decodeXML(b, &o, "OFD.xml"); err != nil {
		return nil, err
	}
	if len(o.DocBodies) == 0 {
		return nil, errors.New("OFD.xml has no DocBody")
	}
	var docs []*Document
	for i, body := range o.DocBodies {
		d := &Document{}
		if d.Root, err = Resolve("OFD.xml", body.DocRoot); err != nil {
			return nil, fmt.Errorf("DocBody %d DocRoot: %w", i, err)
		}
		if strings.TrimSpace(body.Signatures) != "" {
			if d.SignaturesPath, err = p.resolveExisting("OFD.xml", body.Signatures); err != nil {
				return nil, fmt.Errorf("DocBody %d Signatures: %w", i, err)
			}
			if d.Signatures, err = p.readSignatures(d.SignaturesPath); err != nil {
				return nil, err
			}
		}
		docs = append(docs, d)
	}
	return docs, nil
}

func (p *Package) readSignatures(listPath string) ([]*Signature, error) {
	b, err := p.ReadFile(listPath)
	if err != nil {
		return nil, err
	}
	var l signaturesXML
	if err := decodeXML(b, &l, listPath); err != nil {
		return nil, err
	}
	var out []*Signature
	for i, e := range l.Signatures {
		s := &Signature{ID: e.ID, Type: e.Type}
		if s.Type == "" {
			s.Type = "Seal"
		}
		if s.Path, err = p.resolveExisting(listPath, e.BaseLoc); err != nil {
			return nil, fmt.Errorf("%s: Signature %d BaseLoc: %w", listPath, i, err)
		}
		if s.XML, err = p.ReadFile(s.Path); err != nil {
			return nil, fmt.Errorf("%s: Signature %d: %w", listPath, i, err)
		}
		if err := p.fillSignature(s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func (p *Package) fillSignature(s *Signature) error {
	var x signatureXML
	if err := decodeXML(s.XML, &x, s.Path); err != nil {
		return err
	}
	si := x.SignedInfo
	s.Provider = si.Provider.ProviderName
	if s.Provider == "" {
		s.Provider = si.Provider.Name
	}
	if si.Provider.Company != "" {
		s.Provider += " (" + si.Provider.Company + ")"
	}
	s.Method = strings.TrimSpace(si.SignatureMethod)
	s.DateTime = strings.TrimSpace(si.SignatureDateTime)
	s.CheckMethod = strings.TrimSpace(si.References.CheckMethod)
	for _, r := range si.References.Reference {
		ref := Reference{FileRef: r.FileRef}
		ref.Path, ref.Err = p.resolveExisting(s.Path, r.FileRef)
		if ref.Err == nil {
			v := strings.Join(strings.Fields(r.CheckValue), "")
			if ref.CheckValue, ref.Err = base64.StdEncoding.DecodeString(v); ref.Err != nil {
				ref.Err = fmt.Errorf("CheckValue is not base64: %w", ref.Err)
			}
		}
		s.References = append(s.References, ref)
	}
	var err error
	if strings.TrimSpace(x.SignedValue) == "" {
		return fmt.Errorf("%s: no SignedValue", s.Path)
	}
	if s.SignedValuePath, err = p.resolveExisting(s.Path, x.SignedValue); err != nil {
		return fmt.Errorf("%s: SignedValue: %w", s.Path, err)
	}
	if strings.TrimSpace(si.Seal.BaseLoc) != "" {
		if s.SealPath, err = p.resolveExisting(s.Path, si.Seal.BaseLoc); err != nil {
			return fmt.Errorf("%s: Seal BaseLoc: %w", s.Path, err)
		}
	}
	return nil
}
