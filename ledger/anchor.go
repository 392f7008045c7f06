package ledger

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Anchor is one block of an anchor chain: a signed tree head recorded on a
// ledger, linked to the previous block by hash and signed by the anchoring
// node. The embedded anchorer fills every field; a Fabric anchorer fills the
// ones its chaincode keeps and sets Ref to the transaction id.
type Anchor struct {
	// Height is the block's position in the chain, starting at 1.
	Height uint64
	// PrevHash is the Hash of the block at Height-1; empty at height 1.
	PrevHash []byte
	// Time is when the block was made.
	Time time.Time
	// Head is the anchored signed tree head.
	Head SignedTreeHead
	// Consistency is the RFC 6962 consistency proof from the previous
	// block's head to Head (empty at height 1 and when the sizes are equal).
	// Keeping it in the block makes the chain verifiable offline.
	Consistency [][]byte
	// KeyID identifies the key that signed the block.
	KeyID string
	// Signature is the anchoring node's SM2 signature over SignedBytes.
	Signature []byte
	// Hash is SM3(SignedBytes): the block's identity, linked by the next
	// block's PrevHash.
	Hash []byte
	// Ref is a back-end reference (e.g. the Fabric transaction id); not
	// covered by the signature.
	Ref string
}

// Anchor-block encoding, version 1: [Anchor.SignedBytes] is these lines,
// each ended by "\n" (base64 is standard with padding, times are decimal Unix
// nanoseconds, an empty byte string is written as nothing after the space):
//
//	gxhub/ledger/anchor-block/v1
//	height <Height>
//	prev <base64 PrevHash>
//	time <Time>
//	log <Head.LogID>
//	size <Head.Size>
//	root <base64 Head.Root>
//	head-time <Head.Time>
//	head-key <Head.KeyID>
//	head-sig <base64 Head.Signature>
//	consistency <base64 hash>,<base64 hash>,...
//	key <KeyID>
const anchorHeader = "gxhub/ledger/anchor-block/v1"

// SignedBytes returns the canonical encoding of a that the block signature
// and hash cover (see the format above). Signature, Hash and Ref are not
// included. It fails with [ErrInvalid] if a field cannot be encoded.
func (a *Anchor) SignedBytes() ([]byte, error) {
	if a.Height == 0 {
		return nil, fmt.Errorf("%w: anchor height must start at 1", ErrInvalid)
	}
	if a.Time.IsZero() {
		return nil, fmt.Errorf("%w: anchor block has no time", ErrInvalid)
	}
	if err := a.Head.Validate(); err != nil {
		return nil, fmt.Errorf("anchored head: %w", err)
	}
	if err := validToken("head key id", a.Head.KeyID); err != nil {
		return nil, err
	}
	if err := validToken("anchor key id", a.KeyID); err != nil {
		return nil, err
	}
	b64 := base64.StdEncoding.EncodeToString
	proof := make([]string, len(a.Consistency))
	for i, h := range a.Consistency {
		proof[i] = b64(h)
	}
	var b strings.Builder
	b.WriteString(anchorHeader + "\n")
	b.WriteString("height " + strconv.FormatUint(a.Height, 10) + "\n")
	b.WriteString("prev " + b64(a.PrevHash) + "\n")
	b.WriteString("time " + strconv.FormatInt(a.Time.UnixNano(), 10) + "\n")
	b.WriteString("log " + a.Head.LogID + "\n")
	b.WriteString("size " + strconv.FormatUint(a.Head.Size, 10) + "\n")
	b.WriteString("root " + b64(a.Head.Root) + "\n")
	b.WriteString("head-time " + strconv.FormatInt(a.Head.Time.UnixNano(), 10) + "\n")
	b.WriteString("head-key " + a.Head.KeyID + "\n")
	b.WriteString("head-sig " + b64(a.Head.Signature) + "\n")
	b.WriteString("consistency " + strings.Join(proof, ",") + "\n")
	b.WriteString("key " + a.KeyID + "\n")
	return []byte(b.String()), nil
}
