package verify_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The copied vendor files must be byte-identical to their provenance (SHA256SUMS).
func TestExternalDataIntegrity(t *testing.T) {
	sums := read(t, "SHA256SUMS")
	sc := bufio.NewScanner(bytes.NewReader(sums))
	n := 0
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 2 {
			continue
		}
		n++
		name := filepath.Clean(fields[1])
		t.Run(name, func(t *testing.T) {
			got := sha256.Sum256(read(t, name))
			require.Equal(t, fields[0], hex.EncodeToString(got[:]))
		})
	}
	require.GreaterOrEqual(t, n, 30)
}
