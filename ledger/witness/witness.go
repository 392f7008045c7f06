package witness

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/ledger/verify"
)

// Errors of AddCheckpoint, mapped to the tlog-witness HTTP status codes by the Handler.
var (
	// ErrBadRequest: the request cannot be parsed or makes no sense (400).
	ErrBadRequest = errors.New("witness: bad request")
	// ErrUnknownLog: the witness does not follow this origin (404).
	ErrUnknownLog = errors.New("witness: unknown log")
	// ErrBadSignature: the checkpoint is not signed by the log's key (403).
	ErrBadSignature = errors.New("witness: checkpoint not signed by the log's key")
	// ErrRefused: the checkpoint is not an extension of the one the witness cosigned last
	// (a fork, or a bad consistency proof) (422). The witness keeps the evidence.
	ErrRefused = fmt.Errorf("witness: checkpoint refused: %w", ledger.ErrInconsistent)
)

// SizeError says the client's old size is not the witness's latest size (409, body the
// size). A checkpoint smaller than that size is a rollback: the witness reports it too.
type SizeError struct {
	Size uint64
	// Rollback is set when the offered checkpoint is smaller than what the witness cosigned.
	Rollback bool
}

func (e *SizeError) Error() string {
	if e.Rollback {
		return fmt.Sprintf("witness: checkpoint refused: the witness cosigned %d records already; a smaller log is a rollback", e.Size)
	}
	return fmt.Sprintf("witness: the witness's latest cosigned size is %d", e.Size)
}

// Refusal is the evidence a witness keeps of a checkpoint it refused: both validly signed
// by the log, they cannot both be honest.
type Refusal struct {
	Time   time.Time
	Origin string
	// Reason is "rollback" (smaller than cosigned), "fork" (same size, other root) or
	// "inconsistent" (the consistency proof does not hold).
	Reason string
	// Cosigned is the last checkpoint the witness cosigned; Offered the refused one.
	Cosigned, Offered []byte
	// File is where the evidence was written.
	File string
}

// Witness cosigns checkpoints of the logs it follows, keeping the latest cosigned
// checkpoint of each durably in Dir (one file per log, written atomically and synced
// before the cosignature is released).
type Witness struct {
	signer *Signer
	logs   map[string]*Key
	dir    string
	now    func() time.Time
	// OnRefusal, if set, is told of every rollback or fork refused (after the evidence is
	// written).
	OnRefusal func(Refusal)
	mu        sync.Mutex
}

// New returns a witness cosigning with signer (TypeCosignature) the logs whose checkpoint
// keys are given (TypeCheckpoint, named by the log's origin), keeping state in dir.
func New(signer *Signer, logs []*Key, dir string, now func() time.Time) (*Witness, error) {
	if signer == nil || signer.Type != TypeCosignature {
		return nil, errors.New("witness: a cosigning key is needed")
	}
	if len(logs) == 0 {
		return nil, errors.New("witness: no log to follow")
	}
	m := map[string]*Key{}
	for _, k := range logs {
		if k.Type != TypeCheckpoint {
			return nil, fmt.Errorf("witness: key %s is not a log's checkpoint key", k.Name)
		}
		m[k.Name] = k
	}
	if now == nil {
		now = time.Now
	}
	for _, d := range []string{filepath.Join(dir, "checkpoints"), filepath.Join(dir, "refused")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("witness state: %w", err)
		}
	}
	return &Witness{signer: signer, logs: m, dir: dir, now: now}, nil
}

// Name is the witness's key name.
func (w *Witness) Name() string { return w.signer.Name }

func (w *Witness) statePath(origin string) string {
	h := sm.Sum([]byte(origin))
	return filepath.Join(w.dir, "checkpoints", hex.EncodeToString(h[:16]))
}

// Latest returns the latest checkpoint note cosigned for origin (nil if none).
func (w *Witness) Latest(origin string) ([]byte, Checkpoint, error) {
	b, err := os.ReadFile(w.statePath(origin))
	if errors.Is(err, os.ErrNotExist) {
		return nil, Checkpoint{Origin: origin}, nil
	}
	if err != nil {
		return nil, Checkpoint{}, fmt.Errorf("witness state of %s: %w", origin, err)
	}
	n, err := ParseNote(b)
	if err != nil {
		return nil, Checkpoint{}, fmt.Errorf("witness state of %s is damaged: %w", origin, err)
	}
	c, err := ParseBody(n.Body)
	if err != nil || c.Origin != origin {
		return nil, Checkpoint{}, fmt.Errorf("witness state of %s is damaged: %v", origin, err)
	}
	return b, c, nil
}

// AddCheckpoint is tlog-witness's add-checkpoint: old is the size the client believes the
// witness holds, proof the consistency proof from old to the checkpoint in note (a signed
// note by the log's checkpoint key). It returns the witness's cosignature once the new
// state is durable.
func (w *Witness) AddCheckpoint(ctx context.Context, old uint64, proof [][]byte, note []byte) (Signature, error) {
	n, err := ParseNote(note)
	if err != nil {
		return Signature{}, fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	c, err := ParseBody(n.Body)
	if err != nil {
		return Signature{}, fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	key, ok := w.logs[c.Origin]
	if !ok {
		return Signature{}, fmt.Errorf("%w: %s", ErrUnknownLog, c.Origin)
	}
	if _, err := key.VerifyNote(n); err != nil {
		return Signature{}, fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	latestNote, latest, err := w.Latest(c.Origin)
	if err != nil {
		return Signature{}, err
	}
	switch {
	case latestNote != nil && c.Size < latest.Size:
		w.refuse(c.Origin, "rollback", latestNote, note)
		return Signature{}, &SizeError{Size: latest.Size, Rollback: true}
	case latestNote != nil && c.Size == latest.Size && !bytes.Equal(c.Root, latest.Root):
		w.refuse(c.Origin, "fork", latestNote, note)
		return Signature{}, fmt.Errorf("%w: a checkpoint of size %d with another root was cosigned already (a fork)", ErrRefused, c.Size)
	case old != latest.Size:
		return Signature{}, &SizeError{Size: latest.Size}
	case old > c.Size:
		return Signature{}, fmt.Errorf("%w: old size %d is larger than the checkpoint's %d", ErrBadRequest, old, c.Size)
	}
	if old == 0 {
		if len(proof) != 0 {
			return Signature{}, fmt.Errorf("%w: no consistency proof is needed from size 0", ErrBadRequest)
		}
	} else {
		older := ledger.SignedTreeHead{TreeHead: ledger.TreeHead{LogID: c.Origin, Size: latest.Size, Root: latest.Root}}
		newer := ledger.SignedTreeHead{TreeHead: ledger.TreeHead{LogID: c.Origin, Size: c.Size, Root: c.Root}}
		if err := verify.HeadsConsistent(older, newer, proof); err != nil {
			w.refuse(c.Origin, "inconsistent", latestNote, note)
			return Signature{}, fmt.Errorf("%w: the checkpoint of size %d does not extend the cosigned one of size %d: %v", ErrRefused, c.Size, latest.Size, err)
		}
	}
	sig, err := w.signer.Cosign(ctx, n.Body, w.now())
	if err != nil {
		return Signature{}, err
	}
	// Keep the log's note with our cosignature: the state a witness shows to anyone.
	kept := Note{Body: n.Body, Signatures: append(append([]Signature{}, n.Signatures...), sig)}
	if err := writeDurably(w.statePath(c.Origin), kept.Marshal()); err != nil {
		return Signature{}, fmt.Errorf("witness: keep the cosigned checkpoint: %w", err)
	}
	return sig, nil
}

func (w *Witness) refuse(origin, reason string, cosigned, offered []byte) {
	t := w.now().UTC()
	r := Refusal{Time: t, Origin: origin, Reason: reason, Cosigned: cosigned, Offered: offered}
	var b bytes.Buffer
	fmt.Fprintf(&b, "gxhub witness refusal\nwitness %s\nlog %s\nreason %s\ntime %s\n\n-- last cosigned checkpoint --\n%s\n-- refused checkpoint --\n%s",
		w.signer.Name, origin, reason, t.Format(time.RFC3339Nano), cosigned, offered)
	r.File = filepath.Join(w.dir, "refused", strconv.FormatInt(t.UnixNano(), 10)+"-"+reason+".txt")
	if err := writeDurably(r.File, b.Bytes()); err != nil {
		r.File = ""
	}
	if w.OnRefusal != nil {
		w.OnRefusal(r)
	}
}

// writeDurably writes b to path through a synced temporary file and a rename, then syncs
// the directory: after a crash the file is either the old or the new content.
func writeDurably(path string, b []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
