// Package tiles publishes the audit log in the layout of C2SP tlog-tiles, read-only, so
// that auditors and mirrors can fetch the tree and check it against the log's signed
// checkpoint without the hub's API, and verifies a log so published.
//
// Layout (C2SP tlog-tiles, with SM3 in place of SHA-256):
//
//	<prefix>/checkpoint             the latest checkpoint, a signed note (ledger/witness)
//	<prefix>/tile/<L>/<N>[.p/<W>]   hash tile N of level L: the W (256 when full) hashes of
//	                                tree level 8·L at indices N·256 … N·256+W-1, 32 bytes each
//	<prefix>/tile/entries/<N>[.p/<W>]  entry bundle N (the records themselves)
//
// N is written in groups of three decimal digits, every group but the last prefixed
// with "x" (1234067 → x001/x234/067). A full tile never changes; a partial tile of
// width W is a prefix of every later one. Level-0 tiles hold the leaf hashes
// (SM3(0x00 ‖ leaf)), so the whole tree and its root can be rebuilt from them.
//
// The entry bundles carry the audit records, which the hub shows only to auditors and
// to the department that acted (docs/AUDIT.md): the handler refuses them and points to
// the audit API. Everything a mirror needs to check the tree — hashes and checkpoint — is
// public, as the tree heads already are.
package tiles

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/gxhub/gxhub/ledger"
)

// Height is the height of a tile (C2SP tlog-tiles: 8), Width the hashes of a full tile.
const (
	Height = 8
	Width  = 1 << Height
)

// HashSize is the size of one hash in a tile (SM3).
const HashSize = ledger.DigestSize

// Path returns the path of hash tile index of tile level level with width hashes
// ("tile/1/x001/234.p/17"); width Width is a full tile.
func Path(level uint8, index uint64, width int) string {
	p := "tile/" + strconv.Itoa(int(level)) + "/" + encodeIndex(index)
	if width < Width {
		p += ".p/" + strconv.Itoa(width)
	}
	return p
}

func encodeIndex(n uint64) string {
	s := fmt.Sprintf("%03d", n%1000)
	for n >= 1000 {
		n /= 1000
		s = fmt.Sprintf("x%03d/", n%1000) + s
	}
	return s
}

// ErrBadPath means a path is not a tile path of this layout.
var ErrBadPath = errors.New("tiles: not a tile path")

// ParsePath parses the part of a tile path after "tile/": "<L>/<N>[.p/<W>]" or
// "entries/<N>[.p/<W>]" (level -1). Width is Width for a full tile.
func ParsePath(p string) (level int, index uint64, width int, err error) {
	bad := func(why string) (int, uint64, int, error) {
		return 0, 0, 0, fmt.Errorf("%w: %q: %s", ErrBadPath, p, why)
	}
	head, rest, ok := strings.Cut(p, "/")
	if !ok {
		return bad("want <level>/<index>")
	}
	if head == "entries" {
		level = -1
	} else {
		l, err := strconv.Atoi(head)
		if err != nil || l < 0 || l > 63/Height || strconv.Itoa(l) != head {
			return bad("the level must be a number from 0 to 7")
		}
		level = l
	}
	width = Width
	if i := strings.Index(rest, ".p/"); i >= 0 {
		w, err := strconv.Atoi(rest[i+3:])
		if err != nil || w < 1 || w >= Width || strconv.Itoa(w) != rest[i+3:] {
			return bad("a partial tile's width must be 1 to 255")
		}
		width, rest = w, rest[:i]
	}
	groups := strings.Split(rest, "/")
	for i, g := range groups {
		last := i == len(groups)-1
		if !last {
			if !strings.HasPrefix(g, "x") {
				return bad("every index group but the last starts with x")
			}
			g = g[1:]
		}
		if len(g) != 3 || strings.Trim(g, "0123456789") != "" {
			return bad("index groups are three digits")
		}
		d, _ := strconv.ParseUint(g, 10, 64)
		if index > (1<<64-1-d)/1000 {
			return bad("index out of range")
		}
		index = index*1000 + d
	}
	if encodeIndex(index) != rest {
		return bad("the index is not in its one encoding (no leading x000 groups)")
	}
	return level, index, width, nil
}

// Storage is what a [ledger.Storage] may add to serve tiles without one lookup per hash.
type Storage interface {
	// ReadTile returns the first width hashes of the tile holding tree level treeLevel's
	// hashes [index·Width, index·Width+Width), concatenated, or [ledger.ErrNotFound] if
	// fewer are stored.
	ReadTile(ctx context.Context, treeLevel uint8, index uint64, width int) ([]byte, error)
}

// ReadTile returns hash tile index of tile level level with width hashes from s, which
// holds a log of size leaves. It fails with [ledger.ErrNotFound] if the log is too small
// for that tile.
func ReadTile(ctx context.Context, s ledger.LeafStorage, size uint64, level uint8, index uint64, width int) ([]byte, error) {
	if width < 1 || width > Width || int(level)*Height > 63 {
		return nil, fmt.Errorf("%w: tile level %d width %d", ledger.ErrInvalid, level, width)
	}
	treeLevel := level * Height
	if index > (size>>treeLevel)/Width || index*Width+uint64(width) > size>>treeLevel {
		return nil, fmt.Errorf("%w: tile %d/%d of width %d is beyond the log's %d records", ledger.ErrNotFound, level, index, width, size)
	}
	if ts, ok := s.(Storage); ok {
		return ts.ReadTile(ctx, treeLevel, index, width)
	}
	ids := make([]ledger.NodeID, width)
	for i := range ids {
		ids[i] = ledger.NodeID{Level: treeLevel, Index: index*Width + uint64(i)}
	}
	hs, err := s.ReadNodes(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, width*HashSize)
	for _, h := range hs {
		out = append(out, h...)
	}
	return out, nil
}
