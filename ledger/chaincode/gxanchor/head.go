package gxanchor

import (
	"bytes"
	"crypto/ecdsa"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"strconv"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
)

// MaxLogIDLength bounds the length of a log id.
const MaxLogIDLength = 128

// SignedHeadPrefix is the first line of every signed tree head message (see SignedMessage).
const SignedHeadPrefix = "gxhub-tree-head/v1"

// Head is a signed tree head as the hub submits it.
type Head struct {
	// LogID names the audit log (letters, digits, '.', '_', '-', ':'; at most 128).
	LogID string `json:"logId"`
	// Size is the number of leaves in the tree.
	Size uint64 `json:"size"`
	// RootHash is the RFC 6962/SM3 Merkle tree hash of the first Size leaves, lowercase hex.
	RootHash string `json:"rootHash"`
	// Timestamp is the signing time in Unix milliseconds, chosen and signed by the log.
	Timestamp int64 `json:"timestamp"`
	// Signature is the log's SM2 signature (DER SEQUENCE{r,s}, default user ID
	// 1234567812345678) over SignedMessage, standard base64.
	Signature string `json:"signature"`
}

// AnchoredHead is a Head as recorded on the ledger.
type AnchoredHead struct {
	LogID     string `json:"logId"`
	Size      uint64 `json:"size"`
	RootHash  string `json:"rootHash"`
	Timestamp int64  `json:"timestamp"`
	Signature string `json:"signature"`
	// TxID is the Fabric transaction that anchored the head.
	TxID string `json:"txId"`
	// AnchoredAt is the transaction's timestamp (set by the submitting client and the
	// same on every endorser), RFC 3339 in UTC.
	AnchoredAt string `json:"anchoredAt"`
}

// Head returns the signed part of a.
func (a *AnchoredHead) Head() Head {
	return Head{LogID: a.LogID, Size: a.Size, RootHash: a.RootHash, Timestamp: a.Timestamp, Signature: a.Signature}
}

// LogInfo is the registration of a log: its id and the SM2 public key its heads are signed with.
type LogInfo struct {
	LogID        string `json:"logId"`
	PublicKeyPEM string `json:"publicKeyPem"`
	TxID         string `json:"txId"`
	RegisteredAt string `json:"registeredAt"`
}

// SignedMessage returns the exact bytes the log signs for a tree head: five lines, each
// ended by '\n':
//
//	gxhub-tree-head/v1
//	<log id>
//	<size, decimal>
//	<root hash, 64 lowercase hex digits>
//	<timestamp, Unix milliseconds, decimal>
//
// rootHash is the raw 32-byte root.
func SignedMessage(logID string, size uint64, rootHash []byte, timestampMillis int64) []byte {
	var b bytes.Buffer
	b.WriteString(SignedHeadPrefix)
	b.WriteByte('\n')
	b.WriteString(logID)
	b.WriteByte('\n')
	b.WriteString(strconv.FormatUint(size, 10))
	b.WriteByte('\n')
	b.WriteString(hex.EncodeToString(rootHash))
	b.WriteByte('\n')
	b.WriteString(strconv.FormatInt(timestampMillis, 10))
	b.WriteByte('\n')
	return b.Bytes()
}

// ValidateLogID reports whether id is a usable log id.
func ValidateLogID(id string) error {
	if id == "" || len(id) > MaxLogIDLength {
		return fmt.Errorf("%w: log id must be 1 to %d characters, got %d", ErrInvalid, MaxLogIDLength, len(id))
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-', c == ':':
		default:
			return fmt.Errorf("%w: log id %q has character %q at %d; use letters, digits, '.', '_', '-' or ':'", ErrInvalid, id, c, i)
		}
	}
	return nil
}

// decodeHash decodes a hex hash and checks its length.
func decodeHash(what, s string) ([]byte, error) {
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %s is not hex: %v", ErrInvalid, what, err)
	}
	if len(b) != HashSize {
		return nil, fmt.Errorf("%w: %s is %d bytes; an SM3 hash is %d bytes (%d hex digits)", ErrInvalid, what, len(b), HashSize, 2*HashSize)
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

// verifySignature checks h's SM2 signature under pub.
func verifySignature(pub *ecdsa.PublicKey, h Head, root []byte) error {
	sig, err := base64.StdEncoding.DecodeString(h.Signature)
	if err != nil {
		return fmt.Errorf("%w: signature is not standard base64: %v", ErrInvalid, err)
	}
	if len(sig) == 0 {
		return fmt.Errorf("%w: signature is empty", ErrInvalid)
	}
	if !sm2.VerifyASN1WithSM2(pub, nil, SignedMessage(h.LogID, h.Size, root, h.Timestamp), sig) {
		return fmt.Errorf("%w: the SM2 signature (DER, default user ID) of the head of log %q at size %d does not verify under the log's registered public key", ErrBadSignature, h.LogID, h.Size)
	}
	return nil
}
