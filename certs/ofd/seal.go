package ofd

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gxhub/gxhub/certs/ses"
	"github.com/gxhub/gxhub/certs/sm"
)

// PageInfo is one page of a document: its ID (what a StampAnnot's PageRef names), its
// file and its size in millimetres.
type PageInfo struct {
	ID            string
	Path          string
	Width, Height float64
}

// Pages lists the pages of the first document, in order, with their physical box (the
// page's own, else the document's default).
func (p *Package) Pages() ([]PageInfo, error) {
	docs, err := p.Documents()
	if err != nil {
		return nil, err
	}
	b, err := p.ReadFile(docs[0].Root)
	if err != nil {
		return nil, err
	}
	t, err := parseTree(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", docs[0].Root, err)
	}
	defW, defH := 210.0, 297.0
	for _, cd := range t.all("CommonData") {
		for _, pa := range cd.all("PhysicalBox") {
			if w, h, ok := box(pa.text); ok {
				defW, defH = w, h
			}
		}
	}
	var out []PageInfo
	for _, pg := range t.all("Page") {
		loc := pg.attr("BaseLoc")
		if loc == "" {
			continue
		}
		pi := PageInfo{ID: pg.attr("ID"), Width: defW, Height: defH}
		if pi.Path, err = p.resolveExisting(docs[0].Root, loc); err != nil {
			return nil, err
		}
		if pb, err := p.ReadFile(pi.Path); err == nil {
			if pt, err := parseTree(pb); err == nil {
				for _, a := range pt.all("Area") {
					for _, pbx := range a.all("PhysicalBox") {
						if w, h, ok := box(pbx.text); ok {
							pi.Width, pi.Height = w, h
						}
					}
				}
			}
		}
		out = append(out, pi)
	}
	if len(out) == 0 {
		return nil, errors.New("the document has no pages")
	}
	return out, nil
}

// box reads "x y w h".
func box(s string) (w, h float64, ok bool) {
	f := strings.Fields(s)
	if len(f) != 4 {
		return 0, 0, false
	}
	w, err1 := strconv.ParseFloat(f[2], 64)
	h, err2 := strconv.ParseFloat(f[3], 64)
	return w, h, err1 == nil && err2 == nil && w > 0 && h > 0
}

// SealRequest describes sealing an OFD document with a GB/T 38540 V4 electronic seal.
type SealRequest struct {
	Seal []byte         // DER SESeal (V4 or V5) listing Cert
	Key  *sm.PrivateKey // signer key
	Cert []byte         // signer DER certificate
	// Time is the signing time (timeInfo); zero means now.
	Time time.Time
	// TimeStamper, when set, returns an RFC 3161 token over the signature value.
	TimeStamper func(signature []byte) ([]byte, error)
	// Provider names the signing software in Signature.xml.
	Provider string
	// Page is the 1-based page the seal picture is stamped on (0: the first page); X and
	// Y place its top-left corner in millimetres (negative: bottom right of the page).
	Page int
	X, Y float64
	// Limits bound the input package; zero means DefaultLimits.
	Limits Limits
}

// Seal adds a GB/T 38540 V4 seal signature to an OFD document: the references cover every
// file (see AddSignature), the seal picture is placed by a StampAnnot at the seal's size,
// and the SES_Signature is SM2 (default user ID) over DER(TBS_Sign) whose dataHash is the
// SM3 of the exact Signature.xml bytes.
func Seal(doc []byte, req SealRequest) ([]byte, error) {
	seal, err := ses.ParseSeal(req.Seal)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	pkg, err := Open(doc, req.Limits)
	if err != nil {
		return nil, err
	}
	pages, err := pkg.Pages()
	if err != nil {
		return nil, err
	}
	n := req.Page
	if n == 0 {
		n = 1
	}
	if n < 1 || n > len(pages) {
		return nil, fmt.Errorf("page %d does not exist: the document has %d page(s)", n, len(pages))
	}
	pg := pages[n-1]
	w, h := float64(seal.Info.Picture.Width), float64(seal.Info.Picture.Height)
	if w <= 0 || h <= 0 {
		w, h = 40, 40
	}
	x, y := req.X, req.Y
	if x < 0 {
		x = max(pg.Width-w-20, 0)
	}
	if y < 0 {
		y = max(pg.Height-h-20, 0)
	}
	if x+w > pg.Width+0.01 || y+h > pg.Height+0.01 {
		return nil, fmt.Errorf("a %gx%g mm seal at (%g, %g) mm does not fit on page %d (%gx%g mm)", w, h, x, y, n, pg.Width, pg.Height)
	}
	at := req.Time
	if at.IsZero() {
		at = time.Now()
	}
	sign := func(sigXML []byte, prop string) ([]byte, error) {
		return ses.SignV4(ses.SignRequest{Seal: req.Seal, Key: req.Key, Cert: req.Cert, Data: sigXML, PropertyInfo: prop, Time: at, TimeStamper: req.TimeStamper})
	}
	return AddSignature(doc, sign, SignOptions{Provider: orDefault(req.Provider, "gxhub"), Time: at, PageRef: pg.ID,
		Boundary: fmt.Sprintf("%s %s %s %s", num(x), num(y), num(w), num(h)), Limits: req.Limits})
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// Text returns the text a page shows in the text object with the given ID (the
// concatenated TextCode of the TextObject), and whether it exists. The pages' text objects
// are read once per package.
func (p *Package) Text(pageID, objectID string) (string, bool) {
	if p.texts == nil {
		p.texts = map[string]map[string]string{}
		pages, err := p.Pages()
		if err != nil {
			return "", false
		}
		for _, pg := range pages {
			objs := map[string]string{}
			p.texts[pg.ID] = objs
			b, err := p.ReadFile(pg.Path)
			if err != nil {
				continue
			}
			t, err := parseTree(b)
			if err != nil {
				continue
			}
			for _, o := range t.all("TextObject") {
				var s strings.Builder
				for _, c := range o.all("TextCode") {
					s.WriteString(c.text)
				}
				objs[o.attr("ID")] = s.String()
			}
		}
	}
	txt, ok := p.texts[pageID][objectID]
	return txt, ok
}
