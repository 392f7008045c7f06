// Package exchange holds gxhub's data-sharing domain: departments and their identities,
// the resource catalogue, requirements, purpose-bound pulls and freshness. This root
// package declares types, errors and contracts with the standard library only; storage,
// transport and cryptography live in adapter packages below it and are wired by cmd/.
package exchange
