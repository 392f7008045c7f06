package verify

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Status is the outcome of one check.
type Status string

// Check outcomes. Unknown means the check could not be decided (no trust roots, no
// revocation source, ...); it does not make a report invalid.
const (
	Pass    Status = "pass"
	Fail    Status = "fail"
	Unknown Status = "unknown"
)

// Verdict is the overall outcome.
type Verdict string

// Verdicts: valid when no check failed, invalid otherwise.
const (
	Valid   Verdict = "valid"
	Invalid Verdict = "invalid"
)

// Kind is the detected input kind.
type Kind string

// Input kinds.
const (
	KindOFD       Kind = "ofd"           // OFD zip package with Signatures.xml
	KindSeal      Kind = "seal"          // standalone SESeal (.esl)
	KindSignature Kind = "ses_signature" // SES_Signature (SignedValue.dat) + the signed data
)

// Check is one verification step.
type Check struct {
	Name   string `json:"name"`            // e.g. "seal.maker_signature", "reference[Doc_0/Document.xml]"
	Scope  string `json:"scope,omitempty"` // which signature it concerns, e.g. "Doc_0/Signs/Sign_0/Signature.xml"
	Status Status `json:"status"`
	Reason string `json:"reason"`
}

// Signed describes one signature (or, for a standalone seal, the seal) found in the input.
type Signed struct {
	Scope             string    `json:"scope"`
	SigningTime       time.Time `json:"signing_time,omitzero"`
	SigningTimeSource string    `json:"signing_time_source,omitempty"`
	SealVersion       int       `json:"seal_version,omitempty"`
	SealVendor        string    `json:"seal_vendor,omitempty"`
	SealID            string    `json:"seal_id,omitempty"`
	SealName          string    `json:"seal_name,omitempty"`
	SealValidFrom     time.Time `json:"seal_valid_from,omitzero"`
	SealValidTo       time.Time `json:"seal_valid_to,omitzero"`
	Signer            string    `json:"signer,omitempty"`
	SignerLenient     bool      `json:"signer_parsed_leniently,omitempty"`
	Maker             string    `json:"maker,omitempty"`
	Provider          string    `json:"provider,omitempty"`
}

// Report is the result of Verify. It marshals to JSON and renders as a table (WriteText).
type Report struct {
	Input      string    `json:"input,omitempty"`
	Kind       Kind      `json:"kind"`
	Verdict    Verdict   `json:"verdict"`
	VerifiedAt time.Time `json:"verified_at"`
	Signed     []Signed  `json:"signed,omitempty"`
	Checks     []Check   `json:"checks"`
}

func (r *Report) add(scope, name string, st Status, format string, args ...any) {
	r.Checks = append(r.Checks, Check{Name: name, Scope: scope, Status: st, Reason: fmt.Sprintf(format, args...)})
}

func (r *Report) finish() {
	r.Verdict = Valid
	for _, c := range r.Checks {
		if c.Status == Fail {
			r.Verdict = Invalid
			return
		}
	}
}

// Valid reports whether no check failed.
func (r *Report) Valid() bool { return r.Verdict == Valid }

// Failed returns the failing checks.
func (r *Report) Failed() []Check { return r.filter(Fail) }

// Unknowns returns the undecided checks.
func (r *Report) Unknowns() []Check { return r.filter(Unknown) }

func (r *Report) filter(st Status) []Check {
	var out []Check
	for _, c := range r.Checks {
		if c.Status == st {
			out = append(out, c)
		}
	}
	return out
}

// Find returns the checks with the given name (in any scope).
func (r *Report) Find(name string) []Check {
	var out []Check
	for _, c := range r.Checks {
		if c.Name == name {
			out = append(out, c)
		}
	}
	return out
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	e := json.NewEncoder(w)
	e.SetIndent("", "  ")
	e.SetEscapeHTML(false)
	return e.Encode(r)
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// WriteText writes a human-readable summary and a table of checks.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "input:   %s (%s)\n", r.Input, r.Kind)
	fmt.Fprintf(&b, "verdict: %s", strings.ToUpper(string(r.Verdict)))
	if f, u := len(r.Failed()), len(r.Unknowns()); f+u > 0 {
		fmt.Fprintf(&b, " (%d failed, %d unknown)", f, u)
	}
	b.WriteString("\n")
	for _, s := range r.Signed {
		fmt.Fprintf(&b, "\n[%s]\n", s.Scope)
		if s.SealID != "" || s.SealName != "" {
			fmt.Fprintf(&b, "  seal:         %s %q (V%d, vendor %s), valid %s .. %s\n", s.SealID, s.SealName, s.SealVersion, s.SealVendor, fmtTime(s.SealValidFrom), fmtTime(s.SealValidTo))
		}
		if !s.SigningTime.IsZero() {
			fmt.Fprintf(&b, "  signed at:    %s (%s)\n", fmtTime(s.SigningTime), s.SigningTimeSource)
		}
		if s.Signer != "" {
			lenient := ""
			if s.SignerLenient {
				lenient = " [parsed leniently]"
			}
			fmt.Fprintf(&b, "  signer:       %s%s\n", s.Signer, lenient)
		}
		if s.Maker != "" {
			fmt.Fprintf(&b, "  seal maker:   %s\n", s.Maker)
		}
		if s.Provider != "" {
			fmt.Fprintf(&b, "  provider:     %s\n", s.Provider)
		}
	}
	b.WriteString("\n")
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STATUS\tCHECK\tSCOPE\tREASON")
	for _, c := range r.Checks {
		scope := c.Scope
		if scope == "" {
			scope = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.Status, c.Name, scope, c.Reason)
	}
	return tw.Flush()
}
