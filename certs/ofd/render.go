package ofd

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
)

// Part is one package file that a reader reaches from OFD.xml while showing a document:
// a document root, a page, a template, a resource list, a font or image, an annotation,
// an attachment, custom tags, or a file any of those names.
type Part struct {
	Path string // package-relative name
	Role string // why it matters, e.g. "page 1", "template 2", "font 30 (SimHei)"
	Body int    // index of the DocBody it belongs to
	From string // the file that names it ("OFD.xml" for document roots)
}

// Describe names the part for a reader of a report: "page 1 (Doc_0/Pages/Page_0/Content.xml)".
func (p Part) Describe() string { return p.Role + " (" + p.Path + ")" }

// Body is one DocBody of OFD.xml as a reader sees it.
type Body struct {
	Index      int
	DocRoots   []string // resolved DocRoot paths (a well-formed DocBody has exactly one)
	Signatures string   // resolved Signatures.xml path, "" when the DocBody names none
}

// Rendering is what a reader reaches from OFD.xml (GB/T 33190): for every DocBody its
// DocRoot (Document.xml), and from there the templates, pages, resource lists with their
// fonts, images and colour profiles, annotations, attachments, custom tags, extensions and
// versions, plus any other package file named in those files.
type Rendering struct {
	Bodies []Body
	// Parts are the reached files that exist in the package, each once (with the first
	// role that reached it), in the order they were reached.
	Parts []Part
	// Missing are referenced files that are not in the package (a reader shows nothing
	// for them).
	Missing []Part
	// Unread are structural files that could not be parsed: what they reach is unknown.
	Unread []Part
	// Problems are ambiguities a reader may resolve differently, e.g. a DocBody with two
	// DocRoot elements (every candidate is reached, so they are covered by the rule).
	Problems []string
}

// Has reports whether path was reached.
func (r *Rendering) Has(name string) bool {
	for _, p := range r.Parts {
		if p.Path == name {
			return true
		}
	}
	return false
}

// maxNodes bounds the elements parsed in one XML file.
const maxNodes = 1 << 20

// node is an XML element reduced to what the walk needs; names are local names (the
// namespace is ignored on purpose: a reader that ignores it must not be shown more than the
// walk sees).
type node struct {
	name  string
	attrs []xml.Attr
	text  string
	kids  []*node
}

func (n *node) attr(name string) string {
	for _, a := range n.attrs {
		if a.Name.Local == name {
			return strings.TrimSpace(a.Value)
		}
	}
	return ""
}

// all returns every descendant (and n itself) named name, in document order.
func (n *node) all(name string) []*node {
	var out []*node
	var walk func(*node)
	walk = func(m *node) {
		if m.name == name {
			out = append(out, m)
		}
		for _, k := range m.kids {
			walk(k)
		}
	}
	walk(n)
	return out
}

func parseTree(b []byte) (*node, error) {
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = false
	d.CharsetReader = utf8Only
	var root *node
	var stack []*node
	count := 0
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			count++
			if count > maxNodes || len(stack) > 256 {
				return nil, errors.New("too many or too deeply nested elements")
			}
			n := &node{name: t.Name.Local, attrs: append([]xml.Attr(nil), t.Attr...)}
			if len(stack) == 0 {
				if root != nil {
					return nil, errors.New("more than one root element")
				}
				root = n
			} else {
				p := stack[len(stack)-1]
				p.kids = append(p.kids, n)
			}
			stack = append(stack, n)
		case xml.EndElement:
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text += string(t)
			}
		}
	}
	if root == nil {
		return nil, errors.New("no root element")
	}
	var trim func(*node)
	trim = func(n *node) {
		n.text = strings.TrimSpace(n.text)
		for _, k := range n.kids {
			trim(k)
		}
	}
	trim(root)
	return root, nil
}

type walker struct {
	p    *Package
	r    *Rendering
	seen map[string]bool
	body int
	// docDir is the directory of the current Document.xml (some vendors write paths
	// relative to it from deeper files).
	docDir string
	// baseNames are the lower-case base names of the package's files: a value whose base
	// name is not among them names no file, whatever the resolution (the generic scan
	// skips it cheaply).
	baseNames map[string]bool
}

// Rendered walks the package as a reader does (see Rendering). It never fails: files it
// cannot read are listed in Unread.
func (p *Package) Rendered() *Rendering {
	w := &walker{p: p, r: &Rendering{}, seen: map[string]bool{}, baseNames: map[string]bool{}}
	for _, n := range p.names {
		w.baseNames[strings.ToLower(path.Base(n))] = true
	}
	root, err := w.tree("OFD.xml", Part{Path: "OFD.xml", Role: "package entry point"})
	if root == nil {
		_ = err
		return w.r
	}
	for i, db := range root.all("DocBody") {
		w.body, w.docDir = i, ""
		b := Body{Index: i}
		roots := db.all("DocRoot")
		if len(roots) != 1 {
			w.r.Problems = append(w.r.Problems, fmt.Sprintf("DocBody %d has %d DocRoot elements; readers differ in which one they show, so every one must be signed", i, len(roots)))
		}
		for _, dr := range roots {
			for _, name := range w.candidates("OFD.xml", dr.text, nil) {
				b.DocRoots = append(b.DocRoots, name)
				w.document(name, Part{Path: name, Role: fmt.Sprintf("document root of DocBody %d", i), From: "OFD.xml", Body: i})
			}
		}
		if sigs := db.all("Signatures"); len(sigs) > 0 {
			if name, err := p.resolveExisting("OFD.xml", sigs[0].text); err == nil {
				b.Signatures = name
			}
		}
		for _, v := range db.all("Version") {
			for _, name := range w.candidates("OFD.xml", v.attr("BaseLoc"), nil) {
				if t, _ := w.tree(name, Part{Path: name, Role: fmt.Sprintf("version %s of DocBody %d", v.attr("Version"), i), From: "OFD.xml", Body: i}); t != nil {
					w.generic(name, t, nil, "")
				}
			}
		}
		// DocInfo may name a cover image and other files.
		for _, di := range db.all("DocInfo") {
			w.generic("OFD.xml", di, nil, "")
		}
		w.r.Bodies = append(w.r.Bodies, b)
	}
	if len(w.r.Bodies) == 0 {
		w.r.Problems = append(w.r.Problems, "OFD.xml has no DocBody: a reader shows nothing")
	}
	// A DocRoot outside every DocBody: a lenient reader may still open it.
	inBody := 0
	for _, db := range root.all("DocBody") {
		inBody += len(db.all("DocRoot"))
	}
	if all := root.all("DocRoot"); len(all) > inBody {
		w.r.Problems = append(w.r.Problems, fmt.Sprintf("OFD.xml has %d DocRoot element(s) outside a DocBody; they are reached too", len(all)-inBody))
		w.body, w.docDir = len(w.r.Bodies), ""
		for _, dr := range all {
			for _, name := range w.candidates("OFD.xml", dr.text, nil) {
				w.document(name, Part{Path: name, Role: "document root outside a DocBody", From: "OFD.xml", Body: w.body})
			}
		}
	}
	return w.r
}

// add records a reached file; it reports whether it exists and was not reached before.
func (w *walker) add(pt Part) bool {
	if !w.p.Has(pt.Path) {
		for _, m := range w.r.Missing {
			if m.Path == pt.Path {
				return false
			}
		}
		w.r.Missing = append(w.r.Missing, pt)
		return false
	}
	if w.seen[pt.Path] {
		return false
	}
	w.seen[pt.Path] = true
	w.r.Parts = append(w.r.Parts, pt)
	return true
}

// tree adds pt and parses it; nil when it was reached before, is missing or unreadable.
func (w *walker) tree(name string, pt Part) (*node, error) {
	if !w.add(pt) {
		return nil, nil
	}
	b, err := w.p.ReadFile(name)
	if err == nil {
		var t *node
		if t, err = parseTree(b); err == nil {
			return t, nil
		}
	}
	pt.Role += ": " + err.Error()
	w.r.Unread = append(w.r.Unread, pt)
	return nil, err
}

// candidates resolves ref, named in file from, every way a reader might: relative to from's
// directory (GB/T 33190), from the package root, from each base directory, and from the
// document's directory. It returns the distinct results that exist in the package, or the
// standard reading alone when none exists (so that it is reported missing).
func (w *walker) candidates(from, ref string, bases []string) []string {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return nil
	}
	var tries []string
	if n, err := Resolve(from, ref); err == nil {
		tries = append(tries, n)
	}
	if !strings.HasPrefix(ref, "/") {
		if n, err := Resolve("", ref); err == nil {
			tries = append(tries, n)
		}
		for _, b := range append(bases, w.docDir) {
			if b == "" {
				continue
			}
			if n, err := Resolve(b+"/_", ref); err == nil {
				tries = append(tries, n)
			}
		}
	}
	var out []string
	seen := map[string]bool{}
	for _, t := range tries {
		if n, ok := w.p.Lookup(t); ok && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	if len(out) == 0 && len(tries) > 0 {
		return tries[:1]
	}
	return out
}

func (w *walker) document(name string, pt Part) {
	t, _ := w.tree(name, pt)
	if t == nil {
		return
	}
	w.docDir = path.Dir(name)
	body := pt.Body
	sub := func(ref, role string, then func(string, Part)) {
		for _, n := range w.candidates(name, ref, nil) {
			p := Part{Path: n, Role: role, Body: body, From: name}
			if then != nil {
				then(n, p)
			} else {
				w.add(p)
			}
		}
	}
	for _, tp := range t.all("TemplatePage") {
		sub(tp.attr("BaseLoc"), "template "+tp.attr("ID"), w.page)
	}
	for _, r := range t.all("DocumentRes") {
		sub(r.text, "document resources", w.res)
	}
	for _, r := range t.all("PublicRes") {
		sub(r.text, "public resources", w.res)
	}
	n := 0
	for _, pg := range t.all("Page") {
		if pg.attr("BaseLoc") == "" {
			continue
		}
		n++
		sub(pg.attr("BaseLoc"), fmt.Sprintf("page %d", n), w.page)
	}
	for _, a := range t.all("Annotations") {
		sub(a.text, "annotation list", w.list(annotationList...))
	}
	for _, a := range t.all("Attachments") {
		sub(a.text, "attachment list", w.list(attachmentList...))
	}
	for _, c := range t.all("CustomTags") {
		sub(c.text, "custom tag list (document metadata)", w.list(customTagList...))
	}
	for _, e := range t.all("Extensions") {
		sub(e.text, "extension list", w.list())
	}
	w.generic(name, t, nil, "")
}

// page walks a page or template: its page resources and anything else it names.
func (w *walker) page(name string, pt Part) {
	t, _ := w.tree(name, pt)
	if t == nil {
		return
	}
	for _, r := range t.all("PageRes") {
		for _, n := range w.candidates(name, r.text, nil) {
			w.res(n, Part{Path: n, Role: "resources of " + pt.Role, Body: pt.Body, From: name})
		}
	}
	w.generic(name, t, nil, "TextCode")
}

// res walks a resource list: fonts, multimedia (images), colour profiles, relative to its
// BaseLoc.
func (w *walker) res(name string, pt Part) {
	t, _ := w.tree(name, pt)
	if t == nil {
		return
	}
	var bases []string
	if b := t.attr("BaseLoc"); b != "" {
		if strings.HasPrefix(b, "/") {
			if n, err := Resolve("", b); err == nil {
				bases = append(bases, n)
			}
		} else if n, err := Resolve(name, b); err == nil {
			bases = append(bases, n)
		}
	}
	file := func(ref, role string) {
		for _, n := range w.candidates(name, ref, bases) {
			w.add(Part{Path: n, Role: role, Body: pt.Body, From: name})
		}
	}
	for _, f := range t.all("Font") {
		role := "font " + f.attr("ID")
		if fn := f.attr("FontName"); fn != "" {
			role += " (" + fn + ")"
		}
		for _, ff := range f.all("FontFile") {
			file(ff.text, role)
		}
	}
	for _, m := range t.all("MultiMedia") {
		role := strings.ToLower(orDefault(m.attr("Type"), "multimedia")) + " " + m.attr("ID")
		for _, mf := range m.all("MediaFile") {
			file(mf.text, role)
		}
	}
	for _, cs := range t.all("ColorSpace") {
		file(cs.attr("Profile"), "colour profile "+cs.attr("ID"))
	}
	w.generic(name, t, bases, "")
}

// listSpec says which files a list file (annotations, attachments, custom tags) names:
// under every element named item, the text of each child named loc, in the given role;
// parse says whether the named file is itself followed.
type listSpec struct {
	item, loc string
	role      func(item *node) string
	parse     bool
}

// list walks a list file by its specs, then anything else it names.
func (w *walker) list(specs ...listSpec) func(string, Part) {
	return func(name string, pt Part) {
		t, _ := w.tree(name, pt)
		if t == nil {
			return
		}
		for _, sp := range specs {
			for _, it := range t.all(sp.item) {
				for _, l := range it.all(sp.loc) {
					for _, n := range w.candidates(name, l.text, nil) {
						p := Part{Path: n, Role: sp.role(it), Body: pt.Body, From: name}
						if !sp.parse {
							w.add(p)
						} else if at, _ := w.tree(n, p); at != nil {
							w.generic(n, at, nil, "")
						}
					}
				}
			}
		}
		w.generic(name, t, nil, "")
	}
}

var (
	annotationList = []listSpec{{item: "Page", loc: "FileLoc", parse: true, role: func(n *node) string { return "annotations of page ID " + n.attr("PageID") }}}
	attachmentList = []listSpec{{item: "Attachment", loc: "FileLoc", role: func(n *node) string { return fmt.Sprintf("attachment %q", n.attr("Name")) }}}
	customTagList  = []listSpec{
		{item: "CustomTag", loc: "FileLoc", role: func(n *node) string {
			return fmt.Sprintf("custom tags %q (document metadata)", n.attr("NameSpace")+n.attr("TypeID"))
		}},
		{item: "CustomTag", loc: "SchemaLoc", role: func(*node) string { return "custom tag schema" }},
	}
)

// generic adds every other package file named by an attribute value or by the text of a
// leaf element of t (skipping elements named skip, e.g. rendered text): readers and vendor
// extensions follow references this walk does not model, so anything that names a file
// counts as reaching it.
func (w *walker) generic(from string, t *node, bases []string, skip string) {
	var visit func(*node)
	visit = func(n *node) {
		if n.name == "Signatures" && from == "OFD.xml" {
			return // signatures are checked, not shown as content
		}
		try := func(v string) {
			v = strings.TrimSpace(v)
			if v == "" || len(v) > 1024 || strings.ContainsAny(v, "\n\r\t") || !w.baseNames[strings.ToLower(path.Base(v))] {
				return
			}
			for _, c := range w.candidates(from, v, bases) {
				if w.p.Has(c) {
					w.add(Part{Path: c, Role: "file named in " + from, Body: w.body, From: from})
				}
			}
		}
		for _, a := range n.attrs {
			try(a.Value)
		}
		if len(n.kids) == 0 && n.name != skip {
			try(n.text)
		}
		for _, k := range n.kids {
			visit(k)
		}
	}
	visit(t)
}
