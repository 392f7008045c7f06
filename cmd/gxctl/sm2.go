package main

import (
	"crypto/ecdsa"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/emmansun/gmsm/smx509"
	"github.com/spf13/cobra"

	"github.com/gxhub/gxhub/certs/pki"
	"github.com/gxhub/gxhub/certs/sm"
)

func init() { root.AddCommand(sm2Cmd()) }

func sm2Cmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sm2",
		Short: "Offline SM2 keys and signatures (default user ID 1234567812345678, SM3), OpenSSL-compatible",
		Long: `Offline SM2 keys and signatures. Signatures use SM3 with the Z value of the default
user ID 1234567812345678, as OpenSSL 3 does with
  openssl pkeyutl -sign -rawin -digest sm3 -pkeyopt distid:1234567812345678
Keys are PKCS#8 PEM, encrypted (PBES2, AES-256-CBC) when --password-file is given.
verify exits 0 when the signature is valid, 1 when it is not, 2 on usage or parse errors.`,
	}
	// Declared here too so that the sm2 commands do not depend on the hub client's global
	// flags; for `gxctl sm2 ...` this flag takes precedence over the root one of the same name.
	cmd.PersistentFlags().String("password-file", "", "file holding the password of the (encrypted) private key")
	cmd.AddCommand(sm2KeygenCmd(), sm2SignCmd(), sm2VerifyCmd())
	return cmd
}

// sm2Password reads --password-file, if given.
func sm2Password(cmd *cobra.Command) ([]byte, error) {
	f := cmd.Flags().Lookup("password-file")
	if f == nil || f.Value.String() == "" {
		return nil, nil
	}
	b, err := os.ReadFile(f.Value.String())
	if err != nil {
		return nil, exitf(2, "--password-file: %v", err)
	}
	pw := []byte(strings.TrimRight(string(b), "\r\n"))
	if len(pw) == 0 {
		return nil, exitf(2, "--password-file %s is empty", f.Value.String())
	}
	return pw, nil
}

func sm2KeygenCmd() *cobra.Command {
	var out, pubOut string
	var force bool
	cmd := &cobra.Command{
		Use:   "keygen --out KEY.pem [--password-file F] [--pub PUB.pem]",
		Short: "Generate an SM2 key pair (PKCS#8 PEM, mode 0600)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return exitf(2, "keygen: --out KEY.pem is required")
			}
			pw, err := sm2Password(cmd)
			if err != nil {
				return err
			}
			key, err := sm.GenerateKey()
			if err != nil {
				return exitf(2, "keygen: %v", err)
			}
			keyPEM, err := sm.MarshalPrivateKeyPEM(key, pw)
			if err != nil {
				return exitf(2, "keygen: %v", err)
			}
			flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
			if force {
				flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
			}
			if err := writeNew(out, keyPEM, flags, 0o600); err != nil {
				return exitf(2, "keygen: %v (use --force to overwrite)", err)
			}
			if pubOut != "" {
				pubPEM, err := sm.MarshalPublicKeyPEM(&key.PublicKey)
				if err != nil {
					return exitf(2, "keygen: %v", err)
				}
				if err := writeNew(pubOut, pubPEM, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644); err != nil {
					return exitf(2, "keygen: %v", err)
				}
			}
			enc := "unencrypted"
			if len(pw) > 0 {
				enc = "encrypted"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s SM2 private key to %s\n", enc, out)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&out, "out", "", "file for the private key (PKCS#8 PEM, created with mode 0600)")
	f.StringVar(&pubOut, "pub", "", "also write the public key (PKIX PEM) to this file")
	f.BoolVar(&force, "force", false, "overwrite an existing --out file")
	return cmd
}

func writeNew(path string, data []byte, flags int, mode os.FileMode) error {
	fh, err := os.OpenFile(path, flags, mode)
	if err != nil {
		return err
	}
	if _, err := fh.Write(data); err != nil {
		fh.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := fh.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// readInput reads a file, or standard input for "-".
func readInput(cmd *cobra.Command, path string) ([]byte, error) {
	if path == "-" {
		return io.ReadAll(cmd.InOrStdin())
	}
	return os.ReadFile(path)
}

func sm2SignCmd() *cobra.Command {
	var keyFile, in, out string
	var raw bool
	cmd := &cobra.Command{
		Use:   "sign --key KEY.pem [--password-file F] --in FILE --out SIG",
		Short: "Sign a file with SM2 (DER signature; --raw for 64-byte r‖s)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if keyFile == "" || in == "" || out == "" {
				return exitf(2, "sign: --key, --in and --out are required")
			}
			pw, err := sm2Password(cmd)
			if err != nil {
				return err
			}
			keyPEM, err := os.ReadFile(keyFile)
			if err != nil {
				return exitf(2, "sign: %v", err)
			}
			key, err := sm.ParsePrivateKeyPEM(keyPEM, pw)
			if err != nil {
				return exitf(2, "sign: %s: %v", keyFile, err)
			}
			msg, err := readInput(cmd, in)
			if err != nil {
				return exitf(2, "sign: %v", err)
			}
			sign := sm.Sign
			if raw {
				sign = sm.SignRaw
			}
			sig, err := sign(key, msg)
			if err != nil {
				return exitf(2, "sign: %v", err)
			}
			if out == "-" {
				_, err = cmd.OutOrStdout().Write(sig)
			} else {
				err = os.WriteFile(out, sig, 0o644)
			}
			if err != nil {
				return exitf(2, "sign: %v", err)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&keyFile, "key", "", "SM2 private key PEM (PKCS#8, encrypted PKCS#8 or SEC 1 EC PRIVATE KEY)")
	f.StringVar(&in, "in", "", "file to sign (- for standard input)")
	f.StringVar(&out, "out", "", "file for the signature (- for standard output)")
	f.BoolVar(&raw, "raw", false, "write the raw 64-byte r‖s form instead of DER")
	return cmd
}

// decodeSignature accepts a binary DER or raw r‖s signature, or the same as hex or base64
// text (as vendors often hand them over).
func decodeSignature(b []byte) ([]byte, error) {
	if len(b) == sm.RawSignatureSize || (len(b) > 0 && b[0] == 0x30 && isDERSig(b)) {
		return b, nil
	}
	s := strings.TrimSpace(string(b))
	if h, err := hex.DecodeString(s); err == nil && len(h) > 0 {
		return h, nil
	}
	if d, err := base64.StdEncoding.DecodeString(s); err == nil && len(d) > 0 {
		return d, nil
	}
	return nil, errors.New("the signature is neither binary DER / raw 64-byte r‖s nor hex or base64 text")
}

func isDERSig(b []byte) bool {
	_, err := sm.DERToRaw(b)
	return err == nil
}

func sm2VerifyCmd() *cobra.Command {
	var certFile, pubFile, in, sigFile, trustFile, chainFile, atStr string
	cmd := &cobra.Command{
		Use:   "verify (--cert CERT.pem | --pub PUB.pem) --in FILE --sig SIG",
		Short: "Verify an SM2 signature (DER or raw r‖s); exit 0 valid, 1 invalid, 2 usage or parse error",
		Long: `Verify an SM2 signature over FILE, exactly as received. SIG may be DER or raw 64-byte
r‖s, binary or as hex/base64 text. With --cert, --at TIME (RFC 3339, the signing time) also
checks the certificate's validity at that time, and --trust ROOTS.pem [--chain CAS.pem]
checks its chain to a trusted root at that time (default --at: now).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (certFile == "") == (pubFile == "") {
				return exitf(2, "verify: give exactly one of --cert or --pub")
			}
			if in == "" || sigFile == "" {
				return exitf(2, "verify: --in and --sig are required")
			}
			if pubFile != "" && (trustFile != "" || chainFile != "" || atStr != "") {
				return exitf(2, "verify: --trust, --chain and --at need --cert")
			}
			var at time.Time
			if atStr != "" {
				var err error
				if at, err = time.Parse(time.RFC3339, atStr); err != nil {
					return exitf(2, "verify: --at must be RFC 3339 (e.g. 2026-03-01T08:00:00+08:00): %v", err)
				}
			}
			var pub *ecdsa.PublicKey
			var cert *smx509.Certificate
			if pubFile != "" {
				b, err := os.ReadFile(pubFile)
				if err != nil {
					return exitf(2, "verify: %v", err)
				}
				if pub, err = sm.ParsePublicKeyPEM(b); err != nil {
					return exitf(2, "verify: %s: %v", pubFile, err)
				}
			} else {
				b, err := os.ReadFile(certFile)
				if err != nil {
					return exitf(2, "verify: %v", err)
				}
				certs, err := pki.ParseCertsPEM(b)
				if err != nil {
					return exitf(2, "verify: %s: %v", certFile, err)
				}
				cert = certs[0]
				p, ok := cert.PublicKey.(*ecdsa.PublicKey)
				if !ok {
					return exitf(2, "verify: %s does not hold an SM2 public key", certFile)
				}
				pub = p
			}
			msg, err := readInput(cmd, in)
			if err != nil {
				return exitf(2, "verify: %v", err)
			}
			sigBytes, err := os.ReadFile(sigFile)
			if err != nil {
				return exitf(2, "verify: %v", err)
			}
			sig, err := decodeSignature(sigBytes)
			if err != nil {
				return exitf(2, "verify: %s: %v", sigFile, err)
			}
			if err := sm.Verify(pub, msg, sig); err != nil {
				if errors.Is(err, sm.ErrBadSignature) {
					return exitf(1, "INVALID: %v (over %d bytes of %s)", err, len(msg), in)
				}
				return exitf(2, "verify: %v", err)
			}
			if cert != nil {
				if err := checkSignerCert(cmd, cert, trustFile, chainFile, at); err != nil {
					return err
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "valid: SM2 signature over %d bytes of %s\n", len(msg), in)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&certFile, "cert", "", "signer certificate PEM")
	f.StringVar(&pubFile, "pub", "", "signer public key PEM")
	f.StringVar(&in, "in", "", "signed file (- for standard input)")
	f.StringVar(&sigFile, "sig", "", "signature file")
	f.StringVar(&trustFile, "trust", "", "trusted root certificates PEM: check the --cert chain")
	f.StringVar(&chainFile, "chain", "", "intermediate CA certificates PEM for --trust")
	f.StringVar(&atStr, "at", "", "signing time (RFC 3339) at which the certificate must be valid")
	return cmd
}

// checkSignerCert checks cert's validity at `at` and, with trustFile, its chain.
func checkSignerCert(cmd *cobra.Command, cert *smx509.Certificate, trustFile, chainFile string, at time.Time) error {
	if trustFile == "" {
		if chainFile != "" {
			return exitf(2, "verify: --chain needs --trust")
		}
		if !at.IsZero() {
			if at.Before(cert.NotBefore) || at.After(cert.NotAfter) {
				return exitf(1, "INVALID: the signature verifies but certificate %q is not valid at %s (valid %s..%s)",
					cert.Subject.CommonName, showTime(at), showTime(cert.NotBefore), showTime(cert.NotAfter))
			}
		} else {
			fmt.Fprintln(cmd.ErrOrStderr(), "note: certificate validity and chain not checked (give --at and --trust)")
		}
		return nil
	}
	if at.IsZero() {
		at = time.Now()
	}
	b, err := os.ReadFile(trustFile)
	if err != nil {
		return exitf(2, "verify: %v", err)
	}
	roots, err := pki.ParseCertsPEM(b)
	if err != nil {
		return exitf(2, "verify: --trust %s: %v", trustFile, err)
	}
	var inter []*smx509.Certificate
	if chainFile != "" {
		if b, err = os.ReadFile(chainFile); err != nil {
			return exitf(2, "verify: %v", err)
		}
		if inter, err = pki.ParseCertsPEM(b); err != nil {
			return exitf(2, "verify: --chain %s: %v", chainFile, err)
		}
	}
	verify := pki.VerifyDepartmentCert
	if pki.IsSealMakerCert(cert) {
		verify = pki.VerifySealMakerCert
	}
	code, err := verify(cert, roots, inter, at)
	if err != nil {
		return exitf(1, "INVALID: the signature verifies but the certificate does not: %v", err)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "signer: %s (统一社会信用代码 %s), certificate valid at %s\n", cert.Subject.CommonName, code, showTime(at))
	return nil
}
