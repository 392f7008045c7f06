package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/gxhub/gxhub/certs/keystore"
	"github.com/gxhub/gxhub/certs/sm"
)

// Identity keys at rest. A key gxctl creates (department register) is encrypted by default
// (PKCS#8 PBES2, the format the hub uses for its own keys): the password comes from a
// password file or is typed at the terminal. `gxctl identity encrypt` encrypts a key that was
// written in plaintext (older identities, the demo's).

// minKeyPassword is the shortest password gxctl accepts for a new encryption.
const minKeyPassword = 8

func init() {
	root.AddCommand(identityCmd())
}

// readPassword reads a password file (trailing newline removed).
func readPassword(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return []byte(strings.TrimRight(string(b), "\r\n")), nil
}

// promptPassword asks for a password at the terminal (twice when confirm); it fails when
// stdin is not a terminal.
func promptPassword(what string, confirm bool) ([]byte, error) {
	fd := int(os.Stdin.Fd())
	if !term.IsTerminal(fd) {
		return nil, fmt.Errorf("no terminal to type the password of %s in", what)
	}
	fmt.Fprintf(os.Stderr, "password for %s: ", what)
	pw, err := term.ReadPassword(fd)
	fmt.Fprintln(os.Stderr)
	if err != nil {
		return nil, err
	}
	if confirm {
		fmt.Fprintf(os.Stderr, "again: ")
		again, err := term.ReadPassword(fd)
		fmt.Fprintln(os.Stderr)
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(pw, again) {
			return nil, fmt.Errorf("the two passwords differ")
		}
	}
	return pw, nil
}

// newKeyPassword returns the password that encrypts a key gxctl is about to write: from
// file (if given), else typed at the terminal. It refuses short passwords, and refuses to go
// on without one unless plaintext is set (then it returns nil).
func newKeyPassword(file string, plaintext bool, what string) ([]byte, error) {
	if plaintext {
		if file != "" {
			return nil, exitf(2, "--plaintext-key and a password file contradict each other: choose one")
		}
		return nil, nil
	}
	var pw []byte
	var err error
	if file != "" {
		if pw, err = readPassword(file); err != nil {
			return nil, exitf(2, "password file: %v", err)
		}
	} else if pw, err = promptPassword(what, true); err != nil {
		return nil, exitf(2, "%v: %s is encrypted by default; give --password-file FILE (or type the password at a terminal), or --plaintext-key to store it unencrypted", err, what)
	}
	if len(pw) < minKeyPassword {
		return nil, exitf(2, "the password for %s must be at least %d characters", what, minKeyPassword)
	}
	return pw, nil
}

// identityKeyPassword is the password for the key in an identity directory: --password-file,
// else typed at a terminal when the key is encrypted, else nil.
func identityKeyPassword(dir string) ([]byte, error) {
	if global.passwordFile != "" {
		pw, err := readPassword(global.passwordFile)
		if err != nil {
			return nil, exitf(2, "password file: %v", err)
		}
		return pw, nil
	}
	keyPath := filepath.Join(dir, "key.pem")
	encrypted, err := keystore.Protected(keyPath)
	if err != nil || !encrypted {
		return nil, nil // Load reports unreadable files
	}
	pw, err := promptPassword(keyPath, false)
	if err != nil {
		return nil, exitf(2, "%s is encrypted: give --password-file FILE (%v)", keyPath, err)
	}
	return pw, nil
}

func identityCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "identity", Short: "Manage the identity directory's key at rest"}
	var newPW string
	encrypt := &cobra.Command{
		Use:   "encrypt",
		Short: "Encrypt (or re-encrypt) --identity's key.pem in place",
		Long: `Encrypt the SM2 key of the identity directory --identity in place (PKCS#8, PBES2
with AES-256-CBC; OpenSSL reads it with 'openssl pkey -passin'). A plaintext key (written by
an older gxctl, or a demo identity) needs no password to read; an encrypted one is read with
--password-file. The new password comes from --new-password-file or is typed at the
terminal. The file is replaced atomically: a failure leaves the old key.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if global.identity == "" {
				return exitf(2, "pass --identity DIR: the identity whose key to encrypt")
			}
			keyPath := filepath.Join(global.identity, "key.pem")
			old, err := identityKeyPassword(global.identity)
			if err != nil {
				return err
			}
			b, err := os.ReadFile(keyPath)
			if err != nil {
				return exitf(2, "%v", err)
			}
			key, err := sm.ParsePrivateKeyPEM(b, old)
			if err != nil {
				return exitf(2, "%s: %v", keyPath, err)
			}
			pw, err := newKeyPassword(newPW, false, keyPath)
			if err != nil {
				return err
			}
			if err := (keystore.Files{Password: pw}).SaveSM2(keyPath, key); err != nil {
				return exitf(1, "write %s: %v", keyPath, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s encrypted; use it with --password-file\n", keyPath)
			return nil
		},
	}
	encrypt.Flags().StringVar(&newPW, "new-password-file", "", "file with the password to encrypt the key with (default: typed at the terminal)")
	cmd.AddCommand(encrypt)
	return cmd
}
