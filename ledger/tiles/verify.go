package tiles

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/transparency-dev/merkle/compact"

	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/ledger/sm3hash"
)

// CheckNote verifies a checkpoint note's signatures and returns the size and root it
// signs (ledger/witness.VerifyCosigned does this with the log's key).
type CheckNote func(note []byte) (size uint64, root []byte, err error)

// Verified is what [Verify] established.
type Verified struct {
	// Note is the checkpoint fetched; Size and Root what it signs.
	Note []byte
	Size uint64
	Root []byte
	// Tiles is the number of hash tiles fetched and checked.
	Tiles int
}

// Verify fetches the checkpoint and every hash tile of the log published at base (a URL
// whose "checkpoint" and "tile/…" are the log's), checks the checkpoint's signatures with
// check, rebuilds the tree from the leaf hashes of the level-0 tiles, and checks that its
// root is the checkpoint's and that every tile of the upper levels holds exactly the
// subtree hashes the leaf hashes give. The error wraps [ledger.ErrVerification] when the
// published log is not what the checkpoint signs.
func Verify(ctx context.Context, client *http.Client, base string, check CheckNote) (Verified, error) {
	if client == nil {
		client = http.DefaultClient
	}
	base = strings.TrimSuffix(base, "/") + "/"
	note, err := fetch(ctx, client, base+"checkpoint", 1<<16)
	if err != nil {
		return Verified{}, err
	}
	size, root, err := check(note)
	if err != nil {
		return Verified{}, fmt.Errorf("checkpoint: %w", err)
	}
	v := Verified{Note: note, Size: size, Root: root}
	h := sm3hash.Default
	rf := &compact.RangeFactory{Hash: h.HashChildren}

	// Level 0: the leaf hashes, folded into the root.
	rng := rf.NewEmptyRange(0)
	var below [][]byte // the hashes of tree level 8·L, rebuilt from the level under it
	for n := uint64(0); n*Width < size; n++ {
		w := int(min(size-n*Width, Width))
		hs, err := fetchTile(ctx, client, base, 0, n, w)
		if err != nil {
			return v, err
		}
		v.Tiles++
		for _, lh := range hs {
			if err := rng.Append(lh, nil); err != nil {
				return v, err
			}
		}
		if w == Width {
			below = append(below, subtreeRoot(rf, hs))
		}
	}
	got, err := rng.GetRootHash(nil)
	if err != nil {
		return v, err
	}
	if size == 0 {
		got = h.EmptyRoot()
	}
	if !bytes.Equal(got, root) {
		return v, fmt.Errorf("%w: the leaf hashes of the level-0 tiles give root %x, the checkpoint of size %d signs %x", ledger.ErrVerification, got, size, root)
	}
	// Upper levels: tile level L holds the hashes of tree level 8·L; each must be the root
	// of its 256 hashes one tile level below.
	for level := uint8(1); len(below) > 0 && int(level)*Height <= 63; level++ {
		var next [][]byte
		for n := uint64(0); n*Width < uint64(len(below)); n++ {
			w := int(min(uint64(len(below))-n*Width, Width))
			hs, err := fetchTile(ctx, client, base, level, n, w)
			if err != nil {
				return v, err
			}
			v.Tiles++
			for i, got := range hs {
				if want := below[n*Width+uint64(i)]; !bytes.Equal(got, want) {
					return v, fmt.Errorf("%w: tile %s holds %x at position %d, the level below gives %x", ledger.ErrVerification, Path(level, n, w), got, i, want)
				}
			}
			if w == Width {
				next = append(next, subtreeRoot(rf, hs))
			}
		}
		below = next
	}
	return v, nil
}

// subtreeRoot is the root of the perfect subtree over Width hashes.
func subtreeRoot(rf *compact.RangeFactory, hs [][]byte) []byte {
	r := rf.NewEmptyRange(0)
	for _, h := range hs {
		_ = r.Append(h, nil) // appending to a range that starts at 0 cannot fail
	}
	root, _ := r.GetRootHash(nil)
	return root
}

func fetchTile(ctx context.Context, client *http.Client, base string, level uint8, n uint64, w int) ([][]byte, error) {
	p := Path(level, n, w)
	b, err := fetch(ctx, client, base+p, w*HashSize)
	if err != nil {
		return nil, err
	}
	if len(b) != w*HashSize {
		return nil, fmt.Errorf("%w: tile %s has %d bytes, want %d (%d hashes)", ledger.ErrVerification, p, len(b), w*HashSize, w)
	}
	out := make([][]byte, w)
	for i := range out {
		out[i] = b[i*HashSize : (i+1)*HashSize]
	}
	return out, nil
}

// errTooLarge: a response longer than the layout allows.
var errTooLarge = errors.New("response longer than expected")

func fetch(ctx context.Context, client *http.Client, url string, max int) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ledger.ErrInvalid, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w: %v", url, ledger.ErrUnavailable, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, int64(max)+1))
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w: %v", url, ledger.ErrUnavailable, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch %s: %s: %s", url, resp.Status, strings.TrimSpace(string(b)))
	}
	if len(b) > max {
		return nil, fmt.Errorf("fetch %s: %w: %w (%d bytes at most)", url, ledger.ErrVerification, errTooLarge, max)
	}
	return b, nil
}
