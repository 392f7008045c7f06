package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// progress reports how far a long operation (batch publish, batch verify, audit export)
// got, on stderr: a bar redrawn in place when stderr is a terminal, plain lines otherwise
// (logs and pipes get no carriage returns), so stdout stays clean for the data.
type progress struct {
	w     io.Writer
	tty   bool
	verb  string // "published", "verified", "traced"
	unit  string // "records", "files"
	total int    // 0 when unknown
	n     int
	every time.Duration // least time between two plain lines or redraws
	last  time.Time
	drawn bool
	said  int // the count of the last plain count line, -1 for none
	now   func() time.Time
}

// newProgress starts a progress report on w for total items (0: unknown).
func newProgress(w io.Writer, verb, unit string, total int) *progress {
	return &progress{w: w, tty: isTerminal(w), verb: verb, unit: unit, total: total, every: time.Second, said: -1, now: time.Now}
}

// isTerminal reports whether w is a character device (a terminal) that is not TERM=dumb.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("TERM") == "dumb" {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// set records that n items are done. detail, when not empty, is printed as its own line
// (on a terminal above the bar), e.g. the batch id and audit reference of a batch.
func (p *progress) set(n int, detail string) {
	p.n = n
	now := p.now()
	if p.tty {
		if detail != "" {
			fmt.Fprintf(p.w, "\r\033[K%s\n", detail)
			p.drawn = false
		}
		if !p.drawn || now.Sub(p.last) >= p.every/10 || (p.total > 0 && n >= p.total) {
			p.draw()
			p.last = now
		}
		return
	}
	if detail != "" {
		fmt.Fprintln(p.w, detail)
		p.last = now
		return
	}
	if now.Sub(p.last) >= p.every {
		fmt.Fprintln(p.w, p.count())
		p.last, p.said = now, n
	}
}

// clear erases the bar before other output goes to the terminal (the next set redraws it).
func (p *progress) clear() {
	if p.tty && p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
		p.drawn = false
	}
}

// done ends the report with the final count on its own line.
func (p *progress) done() {
	if p.tty {
		p.draw()
		fmt.Fprintln(p.w)
		return
	}
	if p.said != p.n {
		fmt.Fprintln(p.w, p.count())
	}
}

func (p *progress) count() string {
	if p.total > 0 {
		return fmt.Sprintf("%s %d/%d %s", p.verb, p.n, p.total, p.unit)
	}
	return fmt.Sprintf("%s %d %s", p.verb, p.n, p.unit)
}

// draw redraws the bar in place: "published [########------------]  40% 400/1000 records".
func (p *progress) draw() {
	p.drawn = true
	if p.total <= 0 {
		fmt.Fprintf(p.w, "\r\033[K%s", p.count())
		return
	}
	const width = 30
	n := min(p.n, p.total)
	filled := width * n / p.total
	fmt.Fprintf(p.w, "\r\033[K%s [%s%s] %3d%% %d/%d %s", p.verb, strings.Repeat("#", filled), strings.Repeat("-", width-filled),
		100*n/p.total, p.n, p.total, p.unit)
}
