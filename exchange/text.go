package exchange

import (
	"strings"
	"unicode/utf8"
)

// Size caps of free text (bytes of UTF-8; a Chinese character takes three). Long texts cost
// every reader that lists them, and a duty, a reason or a comment that needs more than a few
// KB should cite its documents (title and article) rather than quote them.
const (
	// MaxText caps a duty, condition, comment, reason, objection or description.
	MaxText = 4096
	// MaxShortText caps a name, title, relation or reference.
	MaxShortText = 256
)

// CheckText checks a free-text field: valid UTF-8 and at most max bytes. field names it
// in the error ("legal_duty", "comment", …).
func CheckText(field, v string, max int) error {
	if !utf8.ValidString(v) {
		return Errorf(KindInvalid, "TEXT_INVALID", "%s is not valid UTF-8 text", field)
	}
	if len(v) > max {
		return Errorf(KindInvalid, "TEXT_TOO_LONG",
			"%s is %d bytes; at most %d bytes (about %d Chinese characters) are accepted: shorten it, and cite documents by title and article instead of quoting them",
			field, len(v), max, max/3)
	}
	return nil
}

// checkTexts checks several (field, value) pairs against one cap, in order.
func checkTexts(max int, pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if err := CheckText(pairs[i], pairs[i+1], max); err != nil {
			return err
		}
	}
	return nil
}

// blank reports whether s holds nothing but white space.
func blank(s string) bool { return strings.TrimSpace(s) == "" }
