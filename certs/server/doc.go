// Package server implements the certificate services of gxhub over the certs domain
// packages: verification of documents, seals and e-certificates (VerifyService), the
// e-certificate registry (ECertService), seals and sealed documents (SealService) and the
// trust store (TrustStoreService). Handlers decode, call the domain and encode; the verified
// caller, the audited-write path and the error mapping are exchange/rpc's.
package server
