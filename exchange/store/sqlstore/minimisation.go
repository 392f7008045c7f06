package sqlstore

import (
	"encoding/json"

	"github.com/gxhub/gxhub/exchange"
)

func init() {
	register(migration{32, "requirements: verify-only (核验) and clear-text requests (脱敏)", `
ALTER TABLE requirements ADD COLUMN verify_only INTEGER NOT NULL DEFAULT 0;
ALTER TABLE requirements ADD COLUMN clear_text TEXT NOT NULL DEFAULT ''
`})
}

// encodeClearText stores a requirement's clear-text requests as JSON ("" when none).
func encodeClearText(c []exchange.ClearText) (string, error) {
	if len(c) == 0 {
		return "", nil
	}
	b, err := json.Marshal(c)
	return string(b), err
}

// decodeClearText reads what encodeClearText stored. A value that does not decode gives no
// clear text at all: the items stay masked.
func decodeClearText(s string) []exchange.ClearText {
	if s == "" {
		return nil
	}
	var c []exchange.ClearText
	if json.Unmarshal([]byte(s), &c) != nil {
		return nil
	}
	return c
}
