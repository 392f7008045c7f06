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
	MaxTotalSize   int64 // uncompressed bytes of the whole package, at most
	// MaxRatio, when positive, also bounds the uncompressed total to MaxRatio times the
	// size of the zip (but never below RatioFloor): the budget is proportional to what was
	// accepted, so a small upload cannot claim the whole MaxTotalSize.
	MaxRatio   int64
	RatioFloor int64
}

// DefaultLimits suit e-licences and invoices (tens of KB to a few MB): a package of at most
// 64 MiB, whose entries together decompress to at most 16 times its size (at least 1 MiB,
// at most 64 MiB).
func DefaultLimits() Limits {
	return Limits{MaxArchiveSize: 64 << 20, MaxEntries: 10000, MaxFileSize: 64 << 20, MaxTotalSize: 64 << 20, MaxRatio: 16, RatioFloor: 1 << 20}
}

// Budget returns the uncompressed bytes a package of archiveSize bytes may hold.
func (l Limits) Budget(archiveSize int64) int64 {
	if l.MaxRatio <= 0 || archiveSize >= l.MaxTotalSize/l.MaxRatio {
		return l.MaxTotalSize
	}
	return min(l.MaxTotalSize, max(l.MaxRatio*archiveSize, l.RatioFloor))
}

// ErrUnsafe is wrapped by errors about a package that breaks a hardening rule.
var ErrUnsafe = errors.New("unsafe OFD package")

// Package is an opened OFD zip. Every file is decompressed at most once (ReadFile caches
// it); the bytes returned must not be modified.
type Package struct {
	files  map[string]*zip.File
	names  []string
	limits Limits
	budget int64 // uncompressed bytes this package may hold (Limits.Budget of its size)
	read   int64
	cache  map[string][]byte
	folded map[string]string            // lower-case name → name (names never differ only in case)
	texts  map[string]map[string]string // page ID → text object ID → text (see Text)
}

// Open opens an OFD package held in memory. Before anything is decompressed it checks the
// central directory: entry count, names, and the declared uncompressed sizes against the
// budget (Limits.Budget); ReadFile enforces the same bounds on the bytes actually produced.
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
	folded := make(map[string]string, len(zr.File))
	p := &Package{files: make(map[string]*zip.File, len(zr.File)), limits: lim, budget: lim.Budget(int64(len(data))), cache: map[string][]byte{}, folded: folded}
	var declared uint64
	for _, f := range zr.File {
		name, err := cleanEntryName(f.Name)
		if err != nil {
			return nil, err
		}
		declared += f.UncompressedSize64
		if declared > uint64(p.budget) || f.UncompressedSize64 > uint64(p.budget) {
			return nil, fmt.Errorf("%w: the entries declare more than %d bytes uncompressed for a %d-byte package (the limit is %s): a zip bomb is refused before anything is decompressed", ErrUnsafe, p.budget, len(data), lim.describe())
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

// describe states the limits for error messages.
func (l Limits) describe() string {
	if l.MaxRatio > 0 {
		return fmt.Sprintf("%d times the package size, at least %d and at most %d bytes", l.MaxRatio, l.RatioFloor, l.MaxTotalSize)
	}
	return fmt.Sprintf("%d bytes", l.MaxTotalSize)
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

// Lookup finds a file by name, or by the same name in another case (readers on
// case-insensitive file systems find it so; Open refuses names that differ only in case,
// so the answer is unique).
func (p *Package) Lookup(name string) (string, bool) {
	if p.Has(name) {
		return name, true
	}
	n, ok := p.folded[strings.ToLower(name)]
	return n, ok
}

// ReadFile returns the bytes of a package file (package-relative name, no leading slash),
// enforcing the size limits while decompressing: an entry may not produce more than it
// declared, nor more than the package's remaining budget. The result is cached and shared:
// do not modify it.
func (p *Package) ReadFile(name string) ([]byte, error) {
	if b, ok := p.cache[name]; ok {
		return b, nil
	}
	f, ok := p.files[name]
	if !ok {
		return nil, fmt.Errorf("OFD package has no file %q", name)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("open %q in the package: %w", name, err)
	}
	defer rc.Close()
	limit := min(p.limits.MaxFileSize, p.budget-p.read, int64(min(f.UncompressedSize64, uint64(1)<<62)))
	b, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		if errors.Is(err, zip.ErrFormat) {
			return nil, fmt.Errorf("%w: %q decompresses to more than the %d bytes it declares (zip bomb?) or is corrupt: %v", ErrUnsafe, name, f.UncompressedSize64, err)
		}
		return nil, fmt.Errorf("read %q in the package: %w", name, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w: %q decompresses beyond the size limit (zip bomb?)", ErrUnsafe, name)
	}
	p.read += int64(len(b))
	p.cache[name] = b
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

// utf8Only is the XML CharsetReader of OFD files: UTF-8 only.
func utf8Only(label string, r io.Reader) (io.Reader, error) {
	if strings.EqualFold(label, "utf-8") || strings.EqualFold(label, "utf8") {
		return r, nil
	}
	return nil, fmt.Errorf("unsupported XML encoding %q (OFD uses UTF-8)", label)
}

func decodeXML(b []byte, v any, what string) error {
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	d.CharsetReader = utf8Only
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
