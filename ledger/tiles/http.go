package tiles

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/gxhub/gxhub/ledger"
)

// Server serves a log's checkpoint and hash tiles read-only (GET and HEAD). Mount it at
// "<prefix>/checkpoint" and "<prefix>/tile/"; it routes on the path's last part.
type Server struct {
	// Storage holds the log.
	Storage ledger.LeafStorage
	// Checkpoint returns the latest checkpoint as a signed note.
	Checkpoint func(ctx context.Context) ([]byte, error)
	// Logger receives storage failures. Default slog.Default().
	Logger *slog.Logger
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "the log's tiles are read-only: use GET", http.StatusMethodNotAllowed)
		return
	}
	p := r.URL.Path
	switch {
	case strings.HasSuffix(p, "/checkpoint"):
		note, err := s.Checkpoint(r.Context())
		if err != nil {
			s.fail(w, r, "checkpoint", err)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write(note)
	case strings.Contains(p, "/tile/"):
		s.serveTile(w, r, p[strings.Index(p, "/tile/")+len("/tile/"):])
	default:
		http.NotFound(w, r)
	}
}

func (s *Server) serveTile(w http.ResponseWriter, r *http.Request, rest string) {
	level, index, width, err := ParsePath(rest)
	if err != nil {
		http.Error(w, err.Error()+". Tile paths are tile/<level>/<index>[.p/<width>] as in C2SP tlog-tiles, e.g. tile/0/x001/234 or tile/0/000.p/17", http.StatusNotFound)
		return
	}
	if level < 0 {
		http.Error(w, "entry bundles are not published: they carry the audit records, which only auditors and the department that acted may read. "+
			"Fetch records through the audit API (gxctl audit record N); the hash tiles and the checkpoint are public", http.StatusForbidden)
		return
	}
	size, err := s.Storage.Size(r.Context())
	if err != nil {
		s.fail(w, r, "tile", err)
		return
	}
	b, err := ReadTile(r.Context(), s.Storage, size, uint8(level), index, width)
	if errors.Is(err, ledger.ErrNotFound) {
		http.Error(w, "no such tile yet: "+err.Error()+"; fetch /checkpoint for the size the log has", http.StatusNotFound)
		return
	}
	if err != nil {
		s.fail(w, r, "tile", err)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	if width == Width {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable") // a full tile never changes
	} else {
		w.Header().Set("Cache-Control", "no-cache")
	}
	_, _ = w.Write(b)
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, what string, err error) {
	if r.Context().Err() != nil {
		return
	}
	log := s.Logger
	if log == nil {
		log = slog.Default()
	}
	log.WarnContext(r.Context(), "audit tiles: cannot serve "+what, slog.String("path", r.URL.Path), slog.String("error", err.Error()))
	http.Error(w, what+" unavailable, try again", http.StatusServiceUnavailable)
}
