package sm

import (
	"crypto/cipher"
	"crypto/pbkdf2"
	"hash"

	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/sm4"
)

// SM4KeySize is the size of an SM4 key.
const SM4KeySize = sm4.BlockSize

// NewSM3 returns a streaming SM3 hash as a hash.Hash (for HMAC, PBKDF2, …).
func NewSM3() hash.Hash { return sm3.New() }

// NewSM4GCM returns SM4 in GCM mode (GB/T 36624 authenticated encryption) for a 16-byte key.
func NewSM4GCM(key []byte) (cipher.AEAD, error) {
	block, err := sm4.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// PasswordKey derives an SM4 key from a password with PBKDF2-SM3.
func PasswordKey(password string, salt []byte, iterations int) ([]byte, error) {
	return pbkdf2.Key(NewSM3, password, salt, iterations, SM4KeySize)
}
