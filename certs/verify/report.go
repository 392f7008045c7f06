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

// Check outcomes.
const (
	// Pass: the check was made and holds.
	Pass Status = "pass"
	// Fail: the check was made and does not hold; the verdict is INVALID.
	Fail Status = "fail"
	// Unknown: the check could not be made (no trust root for the issuer, no revocation
	// source, registry status unavailable, ...); the verdict is at best INTACT.
	Unknown Status = "unknown"
	// Unsupported: the verifier cannot check this at all (a signature kind or algorithm
	// it does not implement, a signer nothing identifies); the verdict is at best
	// UNSUPPORTED.
	NotSupported Status = "unsupported"
	// Note: information for the reader that no guarantee depends on (e.g. files that no
	// reader shows and no signature covers, a signing time that is signer-asserted).
	Note Status = "note"
)

// Verdict is the overall outcome. Every surface (report JSON, API, SDK, CLI exit code,
// web banner, batch summary) uses these four words.
type Verdict string

// Verdicts, from best to worst: VALID only when every check passed.
const (
	// Valid: every check passed: the signatures hold, every rendered file is covered,
	// the chains reach a configured trust root, and revocation and registry status were
	// checked.
	Valid Verdict = "VALID"
	// Intact (签名完整，信任未确认): the signatures and coverage hold, but trust,
	// revocation or registry status could not be established; the unknown checks say why.
	Intact Verdict = "INTACT"
	// Invalid: at least one check failed.
	Invalid Verdict = "INVALID"
	// Unsupported (无法校验): a signature kind the verifier cannot check or a signer it
	// cannot identify; nothing failed, but the input is not shown to be intact either.
	Unsupported Verdict = "UNSUPPORTED"
)

// Chinese is the verdict in the words a clerk reads first.
func (v Verdict) Chinese() string {
	switch v {
	case Valid:
		return "有效"
	case Intact:
		return "签名完整，信任未确认"
	case Invalid:
		return "无效"
	case Unsupported:
		return "无法校验"
	}
	return string(v)
}

// Exit codes of "gxctl verify" (and RunCLI): one per verdict, 2 for usage errors and input
// that cannot be read or recognised.
const (
	ExitValid       = 0
	ExitInvalid     = 1
	ExitUsage       = 2
	ExitIntact      = 3
	ExitUnsupported = 4
)

// ExitCode is the exit status for a verdict.
func (v Verdict) ExitCode() int {
	switch v {
	case Valid:
		return ExitValid
	case Intact:
		return ExitIntact
	case Unsupported:
		return ExitUnsupported
	}
	return ExitInvalid
}

// WorstExit combines the exit codes of several verifications (verify-batch): INVALID (1)
// before unreadable (2) before UNSUPPORTED (4) before INTACT (3) before VALID (0).
func WorstExit(codes ...int) int {
	rank := map[int]int{ExitValid: 0, ExitIntact: 1, ExitUnsupported: 2, ExitUsage: 3, ExitInvalid: 4}
	out := ExitValid
	for _, c := range codes {
		if rank[c] > rank[out] {
			out = c
		}
	}
	return out
}

// ParseVerdict reads a verdict word (any case; the words "valid" and "invalid" of older
// reports included).
func ParseVerdict(s string) Verdict {
	return Verdict(strings.ToUpper(strings.TrimSpace(s)))
}

// Kind is the detected input kind.
type Kind string

// Input kinds.
const (
	KindOFD       Kind = "ofd"           // OFD zip package with Signatures.xml
	KindSeal      Kind = "seal"          // standalone SESeal (.esl)
	KindSignature Kind = "ses_signature" // SES_Signature (SignedValue.dat) + the signed data
	// KindSignedData is a GB/T 35275 / RFC 5652 SignedData (.p7s, an OFD Type="Sign"
	// SignedValue.dat) with its content attached or given as the signed data.
	KindSignedData Kind = "signed_data"
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
	Scope string `json:"scope"`
	// Type is the signature's kind: "Seal" (GB/T 38540 SES signature), "Sign" (GB/T 35275
	// SignedData), "SESeal" (a standalone seal) or "ecert".
	Type              string    `json:"type,omitempty"`
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
	Input   string  `json:"input,omitempty"`
	Kind    Kind    `json:"kind"`
	Verdict Verdict `json:"verdict"`
	// Summary says in one line why the verdict is what it is.
	Summary    string    `json:"summary,omitempty"`
	VerifiedAt time.Time `json:"verified_at"`
	Signed     []Signed  `json:"signed,omitempty"`
	Checks     []Check   `json:"checks"`
}

func (r *Report) add(scope, name string, st Status, format string, args ...any) {
	r.Checks = append(r.Checks, Check{Name: name, Scope: scope, Status: st, Reason: fmt.Sprintf(format, args...)})
}

// Finish sets the verdict and summary from the checks: INVALID when any check failed, else
// UNSUPPORTED when any could not be checked at all, else INTACT when any is unknown, else
// VALID (a report with no passing check is never VALID).
func (r *Report) Finish() {
	failed, unsupported, unknown := r.filter(Fail), r.filter(NotSupported), r.filter(Unknown)
	switch {
	case len(failed) > 0:
		r.Verdict = Invalid
		r.Summary = summarise(fmt.Sprintf("%d check(s) failed", len(failed)), failed)
	case len(unsupported) > 0:
		r.Verdict = Unsupported
		r.Summary = summarise("cannot be checked", unsupported)
	case len(r.filter(Pass)) == 0:
		r.Verdict = Unsupported
		r.Summary = "nothing could be checked"
	case len(unknown) > 0:
		r.Verdict = Intact
		r.Summary = summarise(fmt.Sprintf("signatures intact; %d check(s) could not be established", len(unknown)), unknown)
	default:
		r.Verdict = Valid
		r.Summary = fmt.Sprintf("all %d checks passed", len(r.filter(Pass)))
	}
}

func summarise(head string, cs []Check) string {
	var b strings.Builder
	b.WriteString(head)
	b.WriteString(": ")
	for i, c := range cs {
		if i == 3 {
			fmt.Fprintf(&b, "; and %d more", len(cs)-3)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(c.Name)
		if c.Scope != "" {
			b.WriteString(" (" + c.Scope + ")")
		}
		b.WriteString(": " + c.Reason)
	}
	return b.String()
}

// Valid reports whether the verdict is VALID.
func (r *Report) Valid() bool { return r.Verdict == Valid }

// Failed returns the failing checks.
func (r *Report) Failed() []Check { return r.filter(Fail) }

// Unknowns returns the checks that could not be established.
func (r *Report) Unknowns() []Check { return r.filter(Unknown) }

// Unsupporteds returns the checks the verifier cannot make.
func (r *Report) Unsupporteds() []Check { return r.filter(NotSupported) }

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
	fmt.Fprintf(&b, "verdict: %s %s", r.Verdict, r.Verdict.Chinese())
	if f, u, x := len(r.Failed()), len(r.Unknowns()), len(r.Unsupporteds()); f+u+x > 0 {
		fmt.Fprintf(&b, " (%d failed, %d unsupported, %d unknown)", f, x, u)
	}
	b.WriteString("\n")
	if r.Summary != "" {
		fmt.Fprintf(&b, "why:     %s\n", r.Summary)
	}
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
