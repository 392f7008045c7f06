// Package exchange holds gxhub's data-sharing domain: departments and their identities,
// the resource catalogue and its change control (CatalogProposal), the matter registry,
// cases (一企一事一码), requirements, purpose-bound pulls, objections, exemptions (免于提交)
// and freshness. The legal rules live here, in code: the pull use case (Puller, CheckPull)
// checks them before any policy, so a policy rule or a catalogue field can restrict sharing
// further but never widen what the law forbids (REQUIREMENTS A10). This root package
// declares types, errors, use cases and the ports they need with the standard library only;
// storage, transport, policy engine, signing and the audit log live in adapter packages and
// are wired by cmd/.
package exchange
