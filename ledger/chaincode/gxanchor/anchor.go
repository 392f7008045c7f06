package gxanchor

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/transparency-dev/merkle/proof"
)

// State is the part of Fabric's chaincode stub the contract logic reads and writes.
// shim.ChaincodeStubInterface satisfies it.
type State interface {
	GetState(key string) ([]byte, error)
	PutState(key string, value []byte) error
}

// Tx identifies the transaction a change is made in.
type Tx struct {
	ID   string
	Time time.Time
}

// State keys. A log id holds no white space, so a space separates the parts unambiguously.
func logKey(logID string) string    { return "log " + logID }
func latestKey(logID string) string { return "latest " + logID }
func headKey(logID string, size uint64) string {
	return fmt.Sprintf("size %s %020d", logID, size)
}
func heightKey(logID string, height uint64) string {
	return fmt.Sprintf("height %s %020d", logID, height)
}

func getJSON(st State, key string, v any) (bool, error) {
	b, err := st.GetState(key)
	if err != nil {
		return false, fmt.Errorf("read state %q: %w", key, err)
	}
	if b == nil {
		return false, nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("state %q holds invalid JSON: %w", key, err)
	}
	return true, nil
}

func putJSON(st State, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %q: %w", key, err)
	}
	if err := st.PutState(key, b); err != nil {
		return fmt.Errorf("write state %q: %w", key, err)
	}
	return nil
}

// InitLog registers logID with the SM2 public key its tree heads will be signed with. It
// is idempotent for the same key and refuses (ErrLogExists) a different key.
func InitLog(st State, tx Tx, logID, publicKeyPEM string) (*LogInfo, error) {
	if err := ValidateLogID(logID); err != nil {
		return nil, err
	}
	pub, err := ParsePublicKeyPEM(publicKeyPEM)
	if err != nil {
		return nil, err
	}
	keyID, err := KeyID(pub)
	if err != nil {
		return nil, err
	}
	var existing LogInfo
	found, err := getJSON(st, logKey(logID), &existing)
	if err != nil {
		return nil, err
	}
	if found {
		if samePublicKey(existing.PublicKeyPEM, publicKeyPEM) {
			return &existing, nil
		}
		return nil, fmt.Errorf("%w: log %q is already registered (tx %s) with a different public key; a log's key cannot be replaced, register a new log id", ErrLogExists, logID, existing.TxID)
	}
	info := LogInfo{LogID: logID, PublicKeyPEM: publicKeyPEM, KeyID: keyID, TxID: tx.ID, RegisteredAt: tx.Time.UTC().Format(time.RFC3339Nano)}
	if err := putJSON(st, logKey(logID), info); err != nil {
		return nil, err
	}
	return &info, nil
}

func samePublicKey(a, b string) bool {
	ka, err1 := ParsePublicKeyPEM(a)
	kb, err2 := ParsePublicKeyPEM(b)
	return err1 == nil && err2 == nil && ka.Equal(kb)
}

// GetLog returns the registration of logID, or ErrUnknownLog.
func GetLog(st State, logID string) (*LogInfo, error) {
	if err := ValidateLogID(logID); err != nil {
		return nil, err
	}
	var info LogInfo
	found, err := getJSON(st, logKey(logID), &info)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("%w: log %q is not registered; call InitLog(logID, publicKeyPEM) first", ErrUnknownLog, logID)
	}
	return &info, nil
}

// AnchorHead records h after checking, in order: the arguments are well formed, the log is
// registered, the SM2 signature verifies under the log's key, the size is not already
// anchored with another root (ErrFork), the size is not below the latest head (ErrStale),
// and consistencyProof (base64 SM3 hashes, RFC 6962 §2.1.2) proves the latest head's tree
// is a prefix of h's tree (ErrInconsistent). The first head of a log needs no proof.
//
// Submitting the latest anchored head again (same size and root) returns the anchored
// record and changes nothing, so a client may retry a submit safely. created reports
// whether h was newly recorded.
func AnchorHead(st State, tx Tx, h Head, consistencyProof []string) (anchored *AnchoredHead, created bool, err error) {
	info, err := GetLog(st, h.LogID)
	if err != nil {
		return nil, false, err
	}
	root, err := decodeHash("root hash", h.RootHash)
	if err != nil {
		return nil, false, err
	}
	if h.Size == 0 && !bytes.Equal(root, Hasher.EmptyRoot()) {
		return nil, false, fmt.Errorf("%w: a head of size 0 must have the empty-tree root SM3(\"\") = %x", ErrInvalid, Hasher.EmptyRoot())
	}
	if h.Time <= 0 {
		return nil, false, fmt.Errorf("%w: time must be positive Unix nanoseconds, got %d", ErrInvalid, h.Time)
	}
	nodes := make([][]byte, len(consistencyProof))
	for i, s := range consistencyProof {
		if nodes[i], err = decodeHash(fmt.Sprintf("consistency proof element %d", i), s); err != nil {
			return nil, false, err
		}
	}
	pub, err := ParsePublicKeyPEM(info.PublicKeyPEM)
	if err != nil {
		return nil, false, fmt.Errorf("registered key of log %q: %w", h.LogID, err)
	}
	sig, err := verifySignature(pub, h, root)
	if err != nil {
		return nil, false, err
	}
	h.RootHash = base64.StdEncoding.EncodeToString(root) // canonical
	h.Signature = base64.StdEncoding.EncodeToString(sig)

	var latest AnchoredHead
	hasLatest, err := getJSON(st, latestKey(h.LogID), &latest)
	if err != nil {
		return nil, false, err
	}
	if hasLatest && h.Size == latest.Size && h.RootHash == latest.RootHash {
		return &latest, false, nil
	}
	var same AnchoredHead
	found, err := getJSON(st, headKey(h.LogID, h.Size), &same)
	if err != nil {
		return nil, false, err
	}
	if found && same.RootHash != h.RootHash {
		return nil, false, fmt.Errorf("%w: log %q already has an anchored head of size %d with root %s (tx %s); this head has root %s: the log was forked or rewritten",
			ErrFork, h.LogID, h.Size, same.RootHash, same.TxID, h.RootHash)
	}
	height := uint64(1)
	if hasLatest {
		if h.Size < latest.Size {
			return nil, false, fmt.Errorf("%w: log %q is anchored at size %d; a head of size %d is older; anchor a head of size >= %d",
				ErrStale, h.LogID, latest.Size, h.Size, latest.Size)
		}
		latestRoot, err := decodeHash("anchored root hash", latest.RootHash)
		if err != nil {
			return nil, false, err
		}
		if err := proof.VerifyConsistency(Hasher, latest.Size, h.Size, nodes, latestRoot, root); err != nil {
			return nil, false, fmt.Errorf("%w: the head of log %q at size %d (root %s) is not proven consistent with the anchored head at size %d (root %s): %v; send the RFC 6962 consistency proof from size %d to %d",
				ErrInconsistent, h.LogID, h.Size, h.RootHash, latest.Size, latest.RootHash, err, latest.Size, h.Size)
		}
		height = latest.Height + 1
	} else if len(nodes) != 0 {
		return nil, false, fmt.Errorf("%w: log %q has no anchored head yet, so its first head needs no consistency proof; got %d elements", ErrInvalid, h.LogID, len(nodes))
	}

	canon := make([]string, len(nodes))
	for i, n := range nodes {
		canon[i] = base64.StdEncoding.EncodeToString(n)
	}
	a := AnchoredHead{
		LogID: h.LogID, Size: h.Size, RootHash: h.RootHash, Time: h.Time, Signature: h.Signature,
		KeyID: info.KeyID, Height: height, Consistency: canon,
		TxID: tx.ID, AnchoredAt: tx.Time.UTC().Format(time.RFC3339Nano),
	}
	for _, k := range []string{headKey(h.LogID, h.Size), heightKey(h.LogID, height), latestKey(h.LogID)} {
		if err := putJSON(st, k, a); err != nil {
			return nil, false, err
		}
	}
	return &a, true, nil
}

// LatestHead returns the largest anchored head of logID, or ErrNotFound.
func LatestHead(st State, logID string) (*AnchoredHead, error) {
	if _, err := GetLog(st, logID); err != nil {
		return nil, err
	}
	var a AnchoredHead
	found, err := getJSON(st, latestKey(logID), &a)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("%w: log %q has no anchored head yet", ErrNotFound, logID)
	}
	return &a, nil
}

// HeadAt returns the anchored head of logID with the given size, or ErrNotFound.
func HeadAt(st State, logID string, size uint64) (*AnchoredHead, error) {
	if _, err := GetLog(st, logID); err != nil {
		return nil, err
	}
	var a AnchoredHead
	found, err := getJSON(st, headKey(logID, size), &a)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("%w: log %q has no anchored head of size %d", ErrNotFound, logID, size)
	}
	return &a, nil
}

// AnchorAt returns the anchored head of logID at the given height (1 for the first), or
// ErrNotFound.
func AnchorAt(st State, logID string, height uint64) (*AnchoredHead, error) {
	if _, err := GetLog(st, logID); err != nil {
		return nil, err
	}
	var a AnchoredHead
	found, err := getJSON(st, heightKey(logID, height), &a)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("%w: log %q has no anchor at height %d", ErrNotFound, logID, height)
	}
	return &a, nil
}

// IsRefusal reports whether err is one of the contract's refusals (as opposed to a failure
// to read or write state).
func IsRefusal(err error) bool {
	for _, e := range []error{ErrInvalid, ErrLogExists, ErrUnknownLog, ErrBadSignature, ErrInconsistent, ErrFork, ErrStale, ErrNotFound} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
