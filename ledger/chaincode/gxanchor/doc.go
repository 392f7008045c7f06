// Package gxanchor is the Fabric contract that anchors the signed tree heads of gxhub's
// audit logs (REQUIREMENTS C3).
//
// A log is registered once with InitLog(logID, publicKeyPEM). Each AnchorHead carries a
// tree head (log id, size, SM3 root hash, signing time, SM2 signature over SignedMessage)
// and an RFC 6962 consistency proof, computed with SM3 (leaf prefix 0x00, node prefix
// 0x01; see Hasher), from the latest anchored head to the new one. The contract refuses a
// head whose signature does not verify, that is not consistent with the latest head, that
// has the size of an anchored head but another root (a fork), or that is smaller than the
// latest head. LatestHead and HeadAt read anchored heads back.
//
// Errors wrap the sentinels in errors.go, whose text is a stable code at the start of the
// message, so clients on the other side of a Fabric gateway can tell refusals apart.
package gxanchor
