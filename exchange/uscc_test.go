package exchange_test

import (
	"bufio"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/exchange"
)

const (
	usccVectors       = "testdata/uscc_gb32100.tsv"
	usccSharedVectors = "/work/shared/testdata/external/vectors/uscc_gb32100.tsv"
	usccCharset       = "0123456789ABCDEFGHJKLMNPQRTUWXY"
)

type usccVector struct {
	code  string
	valid bool
	line  int
}

// readUSCCVectors reads the tab-separated vectors: code, VALID or INVALID, optional note;
// lines starting with # are comments.
func readUSCCVectors(t *testing.T) []usccVector {
	t.Helper()
	f, err := os.Open(usccVectors)
	require.NoError(t, err)
	defer f.Close()
	var vs []usccVector
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cols := strings.Split(line, "\t")
		require.GreaterOrEqual(t, len(cols), 2, "line %d: want code<TAB>VALID|INVALID", n)
		require.Contains(t, []string{"VALID", "INVALID"}, cols[1], "line %d", n)
		vs = append(vs, usccVector{code: cols[0], valid: cols[1] == "VALID", line: n})
	}
	require.NoError(t, sc.Err())
	return vs
}

// withCheck appends the correct check character to 17 characters.
func withCheck(t *testing.T, first17 string) string {
	t.Helper()
	c, err := exchange.USCCCheckChar(first17)
	require.NoError(t, err)
	return first17 + string(c)
}

func TestUSCCVectorsMatchSharedFile(t *testing.T) {
	shared, err := os.ReadFile(usccSharedVectors)
	if errors.Is(err, os.ErrNotExist) {
		t.Log(usccSharedVectors, "is absent: skipping the byte-for-byte comparison")
		return
	}
	require.NoError(t, err)
	local, err := os.ReadFile(usccVectors)
	require.NoError(t, err)
	require.Equal(t, string(shared), string(local), "exchange/%s differs from %s: copy it over", usccVectors, usccSharedVectors)
}

func TestUSCCVectors(t *testing.T) {
	vs := readUSCCVectors(t)
	valid := 0
	for _, v := range vs {
		t.Run(v.code, func(t *testing.T) {
			err := exchange.ValidateUSCC(v.code)
			if !v.valid {
				require.ErrorContains(t, err, "check character is")
				require.ErrorContains(t, err, "the code was mistyped")
				return
			}
			valid++
			require.NoError(t, err, "line %d", v.line)
			c, err := exchange.USCCCheckChar(v.code[:17])
			require.NoError(t, err)
			require.Equal(t, v.code[17], c)
		})
	}
	require.GreaterOrEqual(t, valid, 9, "the vector file should hold the 9 valid codes it had when this test was written")
	require.Len(t, vs, 10)
}

func TestValidateUSCCErrors(t *testing.T) {
	good := "11100000MB0341032Y" // a valid vector
	tests := []struct {
		name string
		code string
		want []string
	}{
		{"fail/empty", "", []string{"18 characters, got 0"}},
		{"fail/too short", good[:17], []string{"18 characters, got 17"}},
		{"fail/too long", good + "0", []string{"18 characters, got 19"}},
		{"fail/surrounding spaces", " " + good + " ", []string{"leading or trailing spaces"}},
		{"fail/lower case", "11100000mb0341032Y", []string{`'m'`, "position 9", "lower case"}},
		{"fail/letter O", "11100000MB0341O32Y", []string{`'O'`, "position 15", "omits I, O, S, V and Z"}},
		{"fail/letter I", "I1100000MB0341032Y", []string{`'I'`, "position 1", "omits"}},
		{"fail/full-width digit", "１1100000MB0341032Y", []string{"position 1", "full-width"}},
		{"fail/punctuation", "11100000-B0341032Y", []string{`'-'`, "position 9", "not allowed"}},
		{"fail/unassigned authority", withCheck(t, "B1100000MB0341032"), []string{"registration-authority code (position 1) 'B'", "9 (工商)"}},
		{"fail/authority 0", withCheck(t, "01100000MB0341032"), []string{"registration-authority code (position 1) '0'"}},
		{"fail/type 9 under 工商", withCheck(t, "99100000MB0341032"), []string{"organisation-type code (position 2) '9'", "authority 9 (工商)", "3 (农民专业合作社)"}},
		{"fail/type 4 under 民政", withCheck(t, "54100000MB0341032"), []string{"organisation-type code (position 2) '4'", "authority 5 (民政)"}},
		{"fail/type 2 under 其他", withCheck(t, "Y2100000MB0341032"), []string{"organisation-type code (position 2) '2'", "authority Y (其他)"}},
		{"fail/letter in region", withCheck(t, "1111A000MB0341032"), []string{"positions 3–8", `"11A000"`, "行政区划代码"}},
		{"fail/check character", "11100000MB0341032X", []string{"check character is X, expected Y: the code was mistyped"}},
		{"fail/check character 0 vs other", "11330105002500287C"[:17] + "0", []string{"check character is 0, expected C"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := exchange.ValidateUSCC(tc.code)
			require.Error(t, err)
			for _, w := range tc.want {
				require.ErrorContains(t, err, w)
			}
		})
	}
}

// TestValidateUSCCAuthorityTable tries every (registration authority, organisation type)
// pair from the character set with a correct check character: exactly the pairs of the
// GB 32100 table (plus the later A and N assignments) must be accepted.
func TestValidateUSCCAuthorityTable(t *testing.T) {
	table := map[string]bool{}
	for _, p := range strings.Fields(`11 12 13 19  21 29  31 32 33 34 35 39  41 49  51 52 53 59
		61 62 69  71 72 79  81 89  91 92 93  A1 A9  N1 N2 N3 N9  Y1`) {
		table[p] = true
	}
	accepted := 0
	for i := range len(usccCharset) {
		for j := range len(usccCharset) {
			pair := string([]byte{usccCharset[i], usccCharset[j]})
			err := exchange.ValidateUSCC(withCheck(t, pair+"440300MA5F12345"))
			if table[pair] {
				require.NoError(t, err, pair)
				accepted++
			} else {
				require.Error(t, err, pair)
				require.Regexp(t, `registration-authority code|organisation-type code`, err.Error(), pair)
			}
		}
	}
	require.Equal(t, len(table), accepted)
}

// TestValidateUSCCDetectsSingleErrors checks the property GB 32100 chose its check for:
// every single-character substitution and every transposition of two different adjacent
// characters of a valid code is rejected.
func TestValidateUSCCDetectsSingleErrors(t *testing.T) {
	for _, v := range readUSCCVectors(t) {
		if !v.valid {
			continue
		}
		t.Run(v.code, func(t *testing.T) {
			b := []byte(v.code)
			for i := range b {
				orig := b[i]
				for k := range len(usccCharset) {
					if usccCharset[k] == orig {
						continue
					}
					b[i] = usccCharset[k]
					require.Error(t, exchange.ValidateUSCC(string(b)), "substitution at %d: %s", i+1, b)
				}
				b[i] = orig
			}
			for i := 0; i+1 < len(b); i++ {
				if b[i] == b[i+1] {
					continue
				}
				b[i], b[i+1] = b[i+1], b[i]
				require.Error(t, exchange.ValidateUSCC(string(b)), "transposition at %d: %s", i+1, b)
				b[i], b[i+1] = b[i+1], b[i]
			}
		})
	}
}

func TestUSCCCheckChar(t *testing.T) {
	t.Run("ok/round trip over check values", func(t *testing.T) {
		// Varying the last body character walks the check character through all 31 values.
		seen := map[byte]bool{}
		for k := range len(usccCharset) {
			first17 := "9144030071526726" + string(usccCharset[k])
			c, err := exchange.USCCCheckChar(first17)
			require.NoError(t, err)
			require.NoError(t, exchange.ValidateUSCC(first17+string(c)))
			seen[c] = true
		}
		require.Len(t, seen, 31)
	})
	for _, tc := range []struct {
		name, in string
		want     string
	}{
		{"fail/too short", "1110000000001333", "got 16"},
		{"fail/full code", "11100000000013338W", "got 18"},
		{"fail/bad character", "1110000000001333S", `'S'`},
		{"fail/multi-byte", "1110000000001333３", "position 17 is full-width"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := exchange.USCCCheckChar(tc.in)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func FuzzValidateUSCC(f *testing.F) {
	f.Add("11100000MB0341032Y")
	f.Add("11320500014150050C")
	f.Add("91440300MA5F12345")
	f.Add("１1100000MB0341032Y")
	f.Add("")
	f.Fuzz(func(t *testing.T, code string) {
		err := exchange.ValidateUSCC(code)
		if len(code) >= 17 {
			if c, cerr := exchange.USCCCheckChar(code[:17]); cerr == nil && len(code) == 18 && err == nil && c != code[17] {
				t.Fatalf("ValidateUSCC accepted %q but its check character should be %c", code, c)
			}
		}
		if err != nil {
			return
		}
		if len(code) != 18 {
			t.Fatalf("accepted %q of %d bytes", code, len(code))
		}
		// Any other check character must be rejected.
		for k := range len(usccCharset) {
			if usccCharset[k] != code[17] {
				if exchange.ValidateUSCC(code[:17]+string(usccCharset[k])) == nil {
					t.Fatalf("accepted %q and %q", code, code[:17]+string(usccCharset[k]))
				}
			}
		}
	})
}
