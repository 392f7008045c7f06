package sm_test

import (
	"testing"

	"github.com/gxhub/gxhub/certs/sm"
)

// FuzzParsePublicKeyPEM feeds the parser of a registering department's public key (outside
// input of RegisterDepartment): it must never panic, and a key it accepts must be an SM2
// key that round-trips through MarshalPublicKeyPEM.
func FuzzParsePublicKeyPEM(f *testing.F) {
	key, err := sm.GenerateKey()
	if err != nil {
		f.Fatal(err)
	}
	good, err := sm.MarshalPublicKeyPEM(&key.PublicKey)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte("-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n"))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n"))
	f.Add([]byte("not pem"))
	f.Fuzz(func(t *testing.T, data []byte) {
		pub, err := sm.ParsePublicKeyPEM(data)
		if err != nil {
			return
		}
		out, err := sm.MarshalPublicKeyPEM(pub)
		if err != nil {
			t.Fatalf("accepted a key that does not marshal: %v", err)
		}
		again, err := sm.ParsePublicKeyPEM(out)
		if err != nil || !again.Equal(pub) {
			t.Fatalf("accepted key does not round-trip: %v", err)
		}
	})
}
