package gxanchor

import (
	"bytes"
	"encoding/hex"
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

func logKey(logID string) string    { return "log/" + logID }
func latestKey(logID string) string { return "latest/" + logID }
func headKey(logID string, size uint64) string {
	return fmt.Sprintf("head/%s/%020d", logID, size)
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
	if _, err := ParsePublicKeyPEM(publicKeyPEM); err != nil {
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
	info := LogInfo{LogID: logID, PublicKeyPEM: publicKeyPEM, TxID: tx.ID, RegisteredAt: tx.Time.UTC().Format(time.RFC3339Nano)}
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
// and consistencyProof (hex SM3 hashes, RFC 6962 §2.1.2) proves the latest head's tree
// is a prefix of h's tree (ErrInconsistent). The first head of a log needs no proof.
//
// Submitting a head that is already anchored (same size and root) returns the anchored
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
	if h.Timestamp <= 0 {
		return nil, false, fmt.Errorf("%w: timestamp must be positive Unix milliseconds, got %d", ErrInvalid, h.Timestamp)
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
	if err := verifySignature(pub, h, root); err != nil {
		return nil, false, err
	}
	h.RootHash = hex.EncodeToString(root) // canonical lowercase

	var same AnchoredHead
	found, err := getJSON(st, headKey(h.LogID, h.Size), &same)
	if err != nil {
		return nil, false, err
	}
	if found {
		if same.RootHash == h.RootHash {
			return &same, false, nil
		}
		return nil, false, fmt.Errorf("%w: log %q already has an anchored head of size %d with root %s (tx %s); this head has root %s: the log was forked or rewritten",
			ErrFork, h.LogID, h.Size, same.RootHash, same.TxID, h.RootHash)
	}

	var latest AnchoredHead
	hasLatest, err := getJSON(st, latestKey(h.LogID), &latest)
	if err != nil {
		return nil, false, err
	}
	if hasLatest {
		if h.Size < latest.Size {
			return nil, false, fmt.Errorf("%w: log %q is anchored at size %d; a head of size %d is older and was never anchored; anchor a head of size >= %d",
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
	} else if len(nodes) != 0 {
		return nil, false, fmt.Errorf("%w: log %q has no anchored head yet, so its first head needs no consistency proof; got %d elements", ErrInvalid, h.LogID, len(nodes))
	}

	a := AnchoredHead{
		LogID: h.LogID, Size: h.Size, RootHash: h.RootHash, Timestamp: h.Timestamp, Signature: h.Signature,
		TxID: tx.ID, AnchoredAt: tx.Time.UTC().Format(time.RFC3339Nano),
	}
	if err := putJSON(st, headKey(h.LogID, h.Size), a); err != nil {
		return nil, false, err
	}
	if err := putJSON(st, latestKey(h.LogID), a); err != nil {
		return nil, false, err
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
