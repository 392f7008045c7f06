package convert

import (
	"github.com/gxhub/gxhub/certs/verify"
	certsv1 "github.com/gxhub/gxhub/sdk/api/certs/v1"
)

// ReportToProto converts a verification report.
func ReportToProto(r *verify.Report, inputSM3 string) *certsv1.Report {
	out := &certsv1.Report{Input: r.Input, Kind: string(r.Kind), Verdict: string(r.Verdict), Summary: r.Summary, VerifiedAt: certTS(r.VerifiedAt), InputSm3: inputSM3}
	for _, s := range r.Signed {
		out.Signed = append(out.Signed, &certsv1.Signed{Scope: s.Scope, Type: s.Type, SigningTime: certTS(s.SigningTime), SigningTimeSource: s.SigningTimeSource,
			SealId: s.SealID, SealName: s.SealName, SealVendor: s.SealVendor, SealVersion: int32(s.SealVersion),
			SealValidFrom: certTS(s.SealValidFrom), SealValidTo: certTS(s.SealValidTo), Signer: s.Signer, Maker: s.Maker, Provider: s.Provider})
	}
	for _, ch := range r.Checks {
		out.Checks = append(out.Checks, &certsv1.Check{Name: ch.Name, Scope: ch.Scope, Status: string(ch.Status), Reason: ch.Reason})
	}
	return out
}

// ReportFromProto converts a wire report back (for clients).
func ReportFromProto(p *certsv1.Report) *verify.Report {
	r := &verify.Report{Input: p.GetInput(), Kind: verify.Kind(p.GetKind()), Verdict: verify.ParseVerdict(p.GetVerdict()), Summary: p.GetSummary(), VerifiedAt: p.GetVerifiedAt().AsTime()}
	for _, s := range p.GetSigned() {
		r.Signed = append(r.Signed, verify.Signed{Scope: s.GetScope(), Type: s.GetType(), SigningTime: asTime(s.GetSigningTime()), SigningTimeSource: s.GetSigningTimeSource(),
			SealID: s.GetSealId(), SealName: s.GetSealName(), SealVendor: s.GetSealVendor(), SealVersion: int(s.GetSealVersion()),
			SealValidFrom: asTime(s.GetSealValidFrom()), SealValidTo: asTime(s.GetSealValidTo()), Signer: s.GetSigner(), Maker: s.GetMaker(), Provider: s.GetProvider()})
	}
	for _, c := range p.GetChecks() {
		r.Checks = append(r.Checks, verify.Check{Name: c.GetName(), Scope: c.GetScope(), Status: verify.Status(c.GetStatus()), Reason: c.GetReason()})
	}
	return r
}
