package ecert

import (
	"bufio"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestIdentifierVectors checks the real identifiers collected from public code
// (testdata/ecert_identifiers.tsv, copied from the shared external vectors).
func TestIdentifierVectors(t *testing.T) {
	fh, err := os.Open("testdata/ecert_identifiers.tsv")
	require.NoError(t, err)
	defer fh.Close()
	counts := map[string]int{}
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		require.GreaterOrEqual(t, len(f), 2, line)
		s, expected := f[0], strings.Fields(f[1])[0]
		counts[expected]++
		t.Run(s, func(t *testing.T) {
			id, err := ParseIdentifier(s)
			switch expected {
			case "VALID":
				require.NoError(t, err)
				require.Equal(t, s, id.String(), "formatting must give back the identifier")
			case "INVALID":
				require.ErrorIs(t, err, ErrCheckChar)
				// the note names the correct check character: fixing it must make it valid
				fixed := s[:len(s)-1] + string(f[1][strings.Index(f[1], "is ")+3])
				_, err := ParseIdentifier(fixed)
				require.NoError(t, err, fixed)
			case "MALFORMED":
				require.Error(t, err)
				require.NotErrorIs(t, err, ErrCheckChar)
				require.Contains(t, err.Error(), "only 0-9 and A-Z")
			default:
				t.Fatalf("unknown expectation %q", expected)
			}
		})
	}
	require.NoError(t, sc.Err())
	require.GreaterOrEqual(t, counts["VALID"], 4)
	require.GreaterOrEqual(t, counts["INVALID"], 1)
	require.GreaterOrEqual(t, counts["MALFORMED"], 1)
}

func TestMOD3736(t *testing.T) {
	// ISO 7064 MOD 37,36 self-check strings (xbib standardnumber MOD3736Test).
	for _, s := range []string{"A12425GABC1234002M", "B159D8FA01240000K", "188166C7342000003"} {
		t.Run(s, func(t *testing.T) {
			require.True(t, MOD3736Valid(s))
			// every single-character substitution is detected
			for i := 0; i < len(s); i++ {
				for _, c := range mod3736Alphabet {
					if byte(c) == s[i] {
						continue
					}
					mutated := s[:i] + string(c) + s[i+1:]
					require.False(t, MOD3736Valid(mutated), mutated)
				}
			}
			// every adjacent transposition of different characters is detected
			for i := 0; i+1 < len(s); i++ {
				if s[i] == s[i+1] {
					continue
				}
				swapped := s[:i] + string(s[i+1]) + string(s[i]) + s[i+2:]
				require.False(t, MOD3736Valid(swapped), swapped)
			}
		})
	}
	_, err := MOD3736("ab")
	require.ErrorContains(t, err, "not 0-9 or A-Z")
	require.False(t, MOD3736Valid("A"))
}

func TestNewIdentifier(t *testing.T) {
	const typeCode = "11100000000013338W011"
	const issuer = "11430000006122244L"
	id, err := NewIdentifier(typeCode, issuer, "20230000403", 1)
	require.NoError(t, err)
	require.Equal(t, "1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.001.U", id.String())
	require.Equal(t, "11100000000013338W", DefinerCode(id.TypeCode))

	next, err := id.NextVersion()
	require.NoError(t, err)
	require.Equal(t, 2, next.Version)
	parsed, err := ParseIdentifier(next.String())
	require.NoError(t, err)
	require.Equal(t, next, parsed)

	cases := []struct {
		name                  string
		typeCode, issuer, ser string
		version               int
		want                  string
	}{
		{"short type code", "11100000000013338W01", issuer, "1", 1, "21 characters"},
		{"bad definer", "11100000000013338X011", issuer, "1", 1, "definer code"},
		{"letters in type number", "11100000000013338W0A1", issuer, "1", 1, "3-digit type number"},
		{"area code issuer", typeCode, "340100", "1", 1, "issuer code"},
		{"lower-case serial", typeCode, issuer, "abc", 1, "only 0-9 and A-Z"},
		{"empty serial", typeCode, issuer, "", 1, "empty serial"},
		{"version 0", typeCode, issuer, "1", 0, "outside 001-999"},
		{"version 1000", typeCode, issuer, "1", 1000, "outside 001-999"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewIdentifier(tc.typeCode, tc.issuer, tc.ser, tc.version)
			require.ErrorContains(t, err, tc.want)
		})
	}
	last := Identifier{TypeCode: typeCode, IssuerCode: issuer, Serial: "1", Version: 999}
	_, err = last.NextVersion()
	require.ErrorContains(t, err, "version 999")
	require.Empty(t, Identifier{}.String())
}

func TestParseIdentifierRejects(t *testing.T) {
	good := "1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.001.U"
	cases := []struct {
		name, s, want string
	}{
		{"wrong root", strings.Replace(good, "3005.2", "3005.3", 1), "root code"},
		{"missing field", strings.Replace(good, ".001.U", ".U", 1), "5 fields"},
		{"extra field", good + ".X", "5 fields"},
		{"two-digit version", strings.Replace(good, ".001.", ".01.", 1), "3 digits"},
		{"signed version", strings.Replace(good, ".001.", ".+01.", 1), "3 digits"},
		{"long check", good + "U", "one character"},
		{"altered serial", strings.Replace(good, "20230000403", "20230000404", 1), "check character"},
		{"lower case", strings.ToLower(good[:15]) + strings.ToLower(good[15:]), "only 0-9 and A-Z"},
		{"empty", "", "root code"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseIdentifier(tc.s)
			require.ErrorContains(t, err, tc.want)
			if tc.name == "altered serial" {
				require.True(t, errors.Is(err, ErrCheckChar))
			}
		})
	}
}
