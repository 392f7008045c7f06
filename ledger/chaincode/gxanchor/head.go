package gxanchor

import (
	"bytes"
	"crypto/ecdsa"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"strconv"
	"unicode"
	"unicode/utf8"

	"github.com/emmansun/gmsm/sm3"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
)

// MaxLogIDLength bounds the length of a log id in bytes.
const MaxLogIDLength = 256

// SignedHeadHeader is the first line of every signed tree head message (see SignedMessage).
const SignedHeadHeader = "gxhub/ledger/tree-head/v1"

// Head is a signed tree head as the hub submits it (ledger.SignedTreeHead in the hub).
type Head struct {
	// LogID names the audit log: valid UTF-8, printable, no white space, at most 256 bytes.
	LogID string `json:"logId"`
	// Size is the number of leaves in the tree.
	Size uint64 `json:"size"`
	// RootHash is the RFC 6962/SM3 Merkle tree hash of the first Size leaves, standard base64.
	RootHash string `json:"rootHash"`
	// Time is when the log produced the head, Unix nanoseconds (signed by the log).
	Time int64 `json:"time"`
	// Signature is the log's SM2 signature (default user ID 1234567812345678) over
	// SignedMessage, DER SEQUENCE{r,s} (a raw 64-byte r‖s is accepted and stored as DER),
	// standard base64.
	Signature string `json:"signature"`
}

// AnchoredHead is a Head as recorded on the ledger.
type AnchoredHead struct {
	LogID     string `json:"logId"`
	Size      uint64 `json:"size"`
	RootHash  string `json:"rootHash"`
	Time      int64  `json:"time"`
	Signature string `json:"signature"`
	// KeyID identifies the log key that signed the head: hex of the first 16 bytes of
	// SM3(DER SubjectPublicKeyInfo), as gxhub's ledger/sm2sig.KeyID computes it.
	KeyID string `json:"keyId"`
	// Height is the head's position in the log's anchor sequence, from 1.
	Height uint64 `json:"height"`
	// Consistency is the consistency proof (standard base64 SM3 hashes) from the previous
	// anchored head to this one; empty for the first.
	Consistency []string `json:"consistency"`
	// TxID is the Fabric transaction that anchored the head.
	TxID string `json:"txId"`
	// AnchoredAt is the transaction's timestamp (set by the submitting client and the
	// same on every endorser), RFC 3339 in UTC.
	AnchoredAt string `json:"anchoredAt"`
}

// Head returns the signed part of a.
func (a *AnchoredHead) Head() Head {
	return Head{LogID: a.LogID, Size: a.Size, RootHash: a.RootHash, Time: a.Time, Signature: a.Signature}
}

// LogInfo is the registration of a log: its id and the SM2 public key its heads are signed with.
type LogInfo struct {
	LogID        string `json:"logId"`
	PublicKeyPEM string `json:"publicKeyPem"`
	KeyID        string `json:"keyId"`
	TxID         string `json:"txId"`
	RegisteredAt string `json:"registeredAt"`
}

// SignedMessage returns the exact bytes the log signs for a tree head — the encoding of
// gxhub's ledger.TreeHead.SignedBytes, five lines each ended by '\n':
//
//	gxhub/ledger/tree-head/v1
//	log <log id>
//	size <size, decimal>
//	root <root hash, standard base64>
//	time <time, Unix nanoseconds, decimal>
//
// rootHash is the raw 32-byte root.
func SignedMessage(logID string, size uint64, rootHash []byte, timeUnixNano int64) []byte {
	var b bytes.Buffer
	b.WriteString(SignedHeadHeader + "\n")
	b.WriteString("log " + logID + "\n")
	b.WriteString("size " + strconv.FormatUint(size, 10) + "\n")
	b.WriteString("root " + base64.StdEncoding.EncodeToString(rootHash) + "\n")
	b.WriteString("time " + strconv.FormatInt(timeUnixNano, 10) + "\n")
	return b.Bytes()
}

// ValidateLogID reports whether id is a usable log id (the same rule as the hub's
// ledger.TreeHead.Validate, plus valid UTF-8 and a length bound for Fabric state keys).
func ValidateLogID(id string) error {
	if id == "" || len(id) > MaxLogIDLength {
		return fmt.Errorf("%w: log id must be 1 to %d bytes, got %d", ErrInvalid, MaxLogIDLength, len(id))
	}
	if !utf8.ValidString(id) {
		return fmt.Errorf("%w: log id %q is not valid UTF-8", ErrInvalid, id)
	}
	for _, r := range id {
		if r <= ' ' || r == 0x7f || !unicode.IsPrint(r) {
			return fmt.Errorf("%w: log id %q contains white space or a control character", ErrInvalid, id)
		}
	}
	return nil
}

// KeyID returns the identifier of an SM2 public key: hex of the first 16 bytes of
// SM3(DER SubjectPublicKeyInfo).
func KeyID(pub *ecdsa.PublicKey) (string, error) {
	der, err := smx509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("%w: marshal public key: %v", ErrInvalid, err)
	}
	s := sm3.Sum(der)
	return hex.EncodeToString(s[:16]), nil
}

// decodeHash decodes a base64 hash and checks its length.
func decodeHash(what, s string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %s is not standard base64: %v", ErrInvalid, what, err)
	}
	if len(b) != HashSize {
		return nil, fmt.Errorf("%w: %s is %d bytes; an SM3 hash is %d bytes", ErrInvalid, what, len(b), HashSize)
	}
	return b, nil
}

// ParsePublicKeyPEM reads an SM2 public key from a PKIX "PUBLIC KEY" PEM block.
func ParsePublicKeyPEM(data string) (*ecdsa.PublicKey, error) {
	block, _ := pem.Decode([]byte(data))
	if block == nil || block.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("%w: public key must be a PEM \"PUBLIC KEY\" block (PKIX SubjectPublicKeyInfo)", ErrInvalid)
	}
	k, err := smx509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: public key: %v", ErrInvalid, err)
	}
	pub, ok := k.(*ecdsa.PublicKey)
	if !ok || !sm2.IsSM2PublicKey(pub) {
		return nil, fmt.Errorf("%w: public key is %T, not an SM2 key", ErrInvalid, k)
	}
	return pub, nil
}

// verifySignature checks h's SM2 signature under pub and returns it as DER.
func verifySignature(pub *ecdsa.PublicKey, h Head, root []byte) ([]byte, error) {
	sig, err := base64.StdEncoding.DecodeString(h.Signature)
	if err != nil {
		return nil, fmt.Errorf("%w: signature is not standard base64: %v", ErrInvalid, err)
	}
	if len(sig) == 0 {
		return nil, fmt.Errorf("%w: signature is empty", ErrInvalid)
	}
	if len(sig) == 64 && sig[0] != 0x30 {
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		if sig, err = asn1.Marshal(struct{ R, S *big.Int }{r, s}); err != nil {
			return nil, fmt.Errorf("%w: raw r‖s signature: %v", ErrInvalid, err)
		}
	}
	if !sm2.VerifyASN1WithSM2(pub, nil, SignedMessage(h.LogID, h.Size, root, h.Time), sig) {
		return nil, fmt.Errorf("%w: the SM2 signature (default user ID) of the head of log %q at size %d does not verify under the log's registered public key", ErrBadSignature, h.LogID, h.Size)
	}
	return sig, nil
}
