// Package ecert models Chinese electronic licences (电子证照): the GB/T 36904 identifier
// (电子证照标识) with its ISO 7064 MOD 37,36 check character, the catalogue of licence
// types (证照类型, coded as the defining authority's 统一社会信用代码 plus three digits) and
// the GB/T 36903 metadata (元数据) a licence carries; the sealed licence, a compact SM2
// JWS signed by the issuing department for APIs and QR codes (Seal, VerifySealed); and the
// presentation (亮证) token that lets one approver use a licence for one purpose for a
// limited time (Present, VerifyPresentation).
//
// A licence's registry status (updated, suspended, revoked, annulled) is not part of the
// signed token and is kept by the hub's store.
package ecert

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/gxhub/gxhub/certs/pki"
)

// RootOID is the e-licence root code (电子证照根代码) every identifier starts with.
const RootOID = "1.2.156.3005.2"

// ErrCheckChar is wrapped by ParseIdentifier when the identifier is well-formed but its
// check character is wrong (a mistyped or altered identifier).
var ErrCheckChar = errors.New("wrong e-licence identifier check character")

// Identifier is a GB/T 36904 e-licence identifier:
//
//	1.2.156.3005.2.<证照类型代码>.<证照颁发机构代码>.<流水号>.<版本号>.<校验位>
type Identifier struct {
	// TypeCode is the licence type code (证照类型代码): the defining authority's USCC
	// followed by a three-digit type number.
	TypeCode string
	// IssuerCode is the issuing authority's code (证照颁发机构代码), its USCC (older
	// identifiers may carry a 6-digit administrative area code).
	IssuerCode string
	// Serial is the issuer's serial number (流水号), upper-case letters and digits.
	Serial string
	// Version is the licence version (版本号), 1 to 999, written with three digits.
	Version int
}

const mod3736Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

// MOD3736 computes the ISO 7064 MOD 37,36 (hybrid) check character over s, whose
// characters must be 0-9 or A-Z.
func MOD3736(s string) (byte, error) {
	const m = 36
	p := m
	for i := 0; i < len(s); i++ {
		v := strings.IndexByte(mod3736Alphabet, s[i])
		if v < 0 {
			return 0, fmt.Errorf("character %d (%q) is not 0-9 or A-Z", i+1, s[i])
		}
		sum := (p + v) % m
		if sum == 0 {
			sum = m
		}
		p = (2 * sum) % (m + 1)
	}
	return mod3736Alphabet[(m+1-p)%m], nil
}

// MOD3736Valid reports whether the last character of s is the ISO 7064 MOD 37,36 check
// character of the rest.
func MOD3736Valid(s string) bool {
	if len(s) < 2 {
		return false
	}
	c, err := MOD3736(s[:len(s)-1])
	return err == nil && c == s[len(s)-1]
}

// NewIdentifier makes the identifier of a licence issued by gxhub. It is stricter than
// ParseIdentifier: the type code's definer part and the issuer code must be valid USCCs.
func NewIdentifier(typeCode, issuerCode, serial string, version int) (Identifier, error) {
	id := Identifier{TypeCode: typeCode, IssuerCode: issuerCode, Serial: serial, Version: version}
	if err := id.check(); err != nil {
		return Identifier{}, err
	}
	if err := CheckTypeCode(typeCode); err != nil {
		return Identifier{}, err
	}
	if err := pki.CheckUSCC(issuerCode); err != nil {
		return Identifier{}, fmt.Errorf("e-licence issuer code: %w", err)
	}
	return id, nil
}

// CheckTypeCode checks a licence type code: an 18-character USCC (with a correct GB 32100
// check character) of the defining authority followed by three digits.
func CheckTypeCode(code string) error {
	if len(code) != 21 {
		return fmt.Errorf("licence type code %q must be 21 characters (definer's 18-character USCC + 3 digits), got %d", code, len(code))
	}
	if err := pki.CheckUSCC(code[:18]); err != nil {
		return fmt.Errorf("licence type code %q: definer code: %w", code, err)
	}
	for _, c := range code[18:] {
		if c < '0' || c > '9' {
			return fmt.Errorf("licence type code %q must end in a 3-digit type number", code)
		}
	}
	return nil
}

// DefinerCode returns the defining authority's USCC from a licence type code.
func DefinerCode(typeCode string) string {
	if len(typeCode) < 18 {
		return ""
	}
	return typeCode[:18]
}

// check validates the syntax shared by parsing and construction.
func (id Identifier) check() error {
	for _, f := range []struct{ name, v string }{
		{"type code (证照类型代码)", id.TypeCode},
		{"issuer code (证照颁发机构代码)", id.IssuerCode},
		{"serial (流水号)", id.Serial},
	} {
		if f.v == "" {
			return fmt.Errorf("e-licence identifier: empty %s", f.name)
		}
		for i := 0; i < len(f.v); i++ {
			if strings.IndexByte(mod3736Alphabet, f.v[i]) < 0 {
				return fmt.Errorf("e-licence identifier: %s %q has %q at position %d; only 0-9 and A-Z are allowed", f.name, f.v, f.v[i], i+1)
			}
		}
	}
	if id.Version < 1 || id.Version > 999 {
		return fmt.Errorf("e-licence identifier: version %d is outside 001-999", id.Version)
	}
	return nil
}

func (id Identifier) body() string {
	return id.TypeCode + id.IssuerCode + id.Serial + fmt.Sprintf("%03d", id.Version)
}

// CheckChar returns the identifier's check character (校验位), computed over
// type ‖ issuer ‖ serial ‖ version (no dots, no root).
func (id Identifier) CheckChar() (byte, error) {
	if err := id.check(); err != nil {
		return 0, err
	}
	return MOD3736(id.body())
}

// String formats the identifier with its check character; it returns "" when the fields
// are not valid (use CheckChar to learn why).
func (id Identifier) String() string {
	c, err := id.CheckChar()
	if err != nil {
		return ""
	}
	return fmt.Sprintf("%s.%s.%s.%s.%03d.%c", RootOID, id.TypeCode, id.IssuerCode, id.Serial, id.Version, c)
}

// NextVersion returns the identifier of the licence's next version (an update keeps the
// type, issuer and serial).
func (id Identifier) NextVersion() (Identifier, error) {
	if id.Version >= 999 {
		return Identifier{}, fmt.Errorf("e-licence %s is at version 999 and cannot be updated again; issue a new serial", id)
	}
	n := id
	n.Version++
	return n, n.check()
}

// ParseIdentifier parses and checks an identifier. Syntax errors and a wrong check
// character (wrapping ErrCheckChar) are reported; the codes inside are not required to be
// USCCs, since identifiers from other issuers sometimes carry area codes.
func ParseIdentifier(s string) (Identifier, error) {
	prefix := RootOID + "."
	if !strings.HasPrefix(s, prefix) {
		return Identifier{}, fmt.Errorf("e-licence identifier %q does not start with the root code %s", s, RootOID)
	}
	parts := strings.Split(s[len(prefix):], ".")
	if len(parts) != 5 {
		return Identifier{}, fmt.Errorf("e-licence identifier %q must have 5 fields after %s (type.issuer.serial.version.check), has %d", s, RootOID, len(parts))
	}
	if len(parts[3]) != 3 {
		return Identifier{}, fmt.Errorf("e-licence identifier %q: version %q must be 3 digits", s, parts[3])
	}
	version, err := strconv.Atoi(parts[3])
	if err != nil || strings.ContainsAny(parts[3], "+-") {
		return Identifier{}, fmt.Errorf("e-licence identifier %q: version %q must be 3 digits", s, parts[3])
	}
	if len(parts[4]) != 1 {
		return Identifier{}, fmt.Errorf("e-licence identifier %q: the check character %q must be one character", s, parts[4])
	}
	id := Identifier{TypeCode: parts[0], IssuerCode: parts[1], Serial: parts[2], Version: version}
	want, err := id.CheckChar()
	if err != nil {
		return Identifier{}, fmt.Errorf("%w (in %q)", err, s)
	}
	if parts[4][0] != want {
		return Identifier{}, fmt.Errorf("%w: %q ends in %q, ISO 7064 MOD 37,36 gives %q; the identifier is mistyped or altered", ErrCheckChar, s, parts[4], want)
	}
	return id, nil
}
