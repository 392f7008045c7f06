package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/ledger/sm2sig"
	"github.com/gxhub/gxhub/ledger/witness"
)

func init() { root.AddCommand(witnessCmd()) }

// Files of a witness directory.
const (
	witnessKeyFile  = "witness-key.pem"
	witnessPubFile  = "witness-pub.pem"
	witnessNameFile = "name"
)

func witnessCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "witness",
		Short: "Run an audit-log witness for another department: keep the last checkpoint, cosign only extensions",
		Long: `A witness is run by a department other than the hub's operator (the auditor's office,
by default). It keeps the last checkpoint of the hub's audit log it cosigned, checks a
consistency proof for every new one and cosigns it (C2SP tlog-witness, with SM2/SM3). A
checkpoint that is smaller (a rollback) or different (a fork) is refused, and the evidence
is written to DIR/refused/. docs/AUDIT.md describes the formats.`,
	}
	var name, password string
	initCmd := &cobra.Command{
		Use:   "init DIR",
		Short: "Create a witness directory: its SM2 cosigning key and name; prints the public key for the hub's configuration",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := args[0]
			if name == "" || strings.ContainsAny(name, " \t\n+") {
				return exitf(2, "--name is required: the witness's name, without spaces or '+' (e.g. sj-witness)")
			}
			if _, err := os.Stat(filepath.Join(dir, witnessKeyFile)); err == nil {
				return exitf(2, "%s already holds a witness key: a witness keeps its key (its cosignatures are checked with it)", dir)
			}
			pw, err := readWitnessPassword(password)
			if err != nil {
				return err
			}
			key, err := sm.GenerateKey()
			if err != nil {
				return err
			}
			kp, err := sm.MarshalPrivateKeyPEM(key, pw)
			if err != nil {
				return err
			}
			pub, err := sm.MarshalPublicKeyPEM(&key.PublicKey)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return exitf(2, "%v", err)
			}
			for f, b := range map[string][]byte{witnessKeyFile: kp, witnessPubFile: pub, witnessNameFile: []byte(name + "\n")} {
				mode := os.FileMode(0o644)
				if f == witnessKeyFile {
					mode = 0o600
				}
				if err := os.WriteFile(filepath.Join(dir, f), b, mode); err != nil {
					return exitf(2, "%v", err)
				}
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "witness %s: key in %s, public key in %s\n", name, filepath.Join(dir, witnessKeyFile), filepath.Join(dir, witnessPubFile))
			fmt.Fprintf(w, "hub configuration (witnesses): \"%s http://HOST:PORT %s\"\n", name, filepath.Join(dir, witnessPubFile))
			fmt.Fprintf(w, "auditors verify receipts with: --witness %s=%s\n", name, filepath.Join(dir, witnessPubFile))
			return nil
		},
	}
	initCmd.Flags().StringVar(&name, "name", "", "the witness's name (in its cosignatures)")
	initCmd.Flags().StringVar(&password, "password-file", "", "encrypt the witness key with the password in this file")

	var listen, logKey, logID string
	serve := &cobra.Command{
		Use:   "serve DIR",
		Short: "Serve tlog-witness's POST /add-checkpoint for the hub's audit log, until interrupted",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := args[0]
			w, err := openWitness(dir, password, logKey, logID)
			if err != nil {
				return err
			}
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			w.OnRefusal = func(r witness.Refusal) {
				log.Error("REFUSED a checkpoint of the audit log: the hub rolled its log back or forked it",
					"reason", r.Reason, "log", r.Origin, "evidence", r.File)
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return exitf(2, "listen %s: %v", listen, err)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			srv := &http.Server{Handler: witness.Handler(w), ReadHeaderTimeout: 10 * time.Second}
			errc := make(chan error, 1)
			go func() { errc <- srv.Serve(ln) }()
			log.Info("witness serving", "name", w.Name(), "log", logID, "addr", ln.Addr().String(), "state", dir)
			select {
			case err := <-errc:
				return err
			case <-ctx.Done():
			}
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			log.Info("witness stopped")
			return nil
		},
	}
	serve.Flags().StringVar(&listen, "listen", "127.0.0.1:7380", "address to serve on")
	serve.Flags().StringVar(&logKey, "log-key", "", "PEM of the hub's tree-head key (gxctl audit key, obtained on a trusted channel)")
	serve.Flags().StringVar(&logID, "log-id", "gxhub/audit", "the log's id (audit_log_id of the hub)")
	serve.Flags().StringVar(&password, "password-file", "", "the password file the witness key was encrypted with")

	key := &cobra.Command{
		Use:   "key DIR",
		Short: "Print the witness's cosigning public key (PEM)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := os.ReadFile(filepath.Join(args[0], witnessPubFile))
			if err != nil {
				return exitf(2, "%v (create the witness with gxctl witness init)", err)
			}
			_, err = cmd.OutOrStdout().Write(b)
			return err
		},
	}
	cmd.AddCommand(initCmd, serve, key)
	return cmd
}

func readWitnessPassword(path string) ([]byte, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, exitf(2, "--password-file: %v", err)
	}
	return []byte(strings.TrimRight(string(b), "\r\n")), nil
}

// openWitness loads the witness in dir, following the log logID whose tree-head key is in
// logKeyFile.
func openWitness(dir, passwordFile, logKeyFile, logID string) (*witness.Witness, error) {
	if logKeyFile == "" {
		return nil, exitf(2, "--log-key is required: the hub's tree-head key (gxctl audit key > log-key.pem, compared out of band)")
	}
	pw, err := readWitnessPassword(passwordFile)
	if err != nil {
		return nil, err
	}
	nb, err := os.ReadFile(filepath.Join(dir, witnessNameFile))
	if err != nil {
		return nil, exitf(2, "%s is not a witness directory (%v): create it with gxctl witness init", dir, err)
	}
	kb, err := os.ReadFile(filepath.Join(dir, witnessKeyFile))
	if err != nil {
		return nil, exitf(2, "%v", err)
	}
	key, err := sm.ParsePrivateKeyPEM(kb, pw)
	if err != nil {
		return nil, exitf(2, "witness key: %v (wrong --password-file?)", err)
	}
	lb, err := os.ReadFile(logKeyFile)
	if err != nil {
		return nil, exitf(2, "--log-key: %v", err)
	}
	logPub, err := sm.ParsePublicKeyPEM(lb)
	if err != nil {
		return nil, exitf(2, "--log-key %s: %v", logKeyFile, err)
	}
	lk, err := witness.NewKey(logID, witness.TypeCheckpoint, logPub)
	if err != nil {
		return nil, exitf(2, "--log-id: %v", err)
	}
	s, err := sm2sig.NewSigner(key)
	if err != nil {
		return nil, err
	}
	signer, err := witness.NewSigner(strings.TrimSpace(string(nb)), witness.TypeCosignature, s, &key.PublicKey)
	if err != nil {
		return nil, exitf(2, "%v", err)
	}
	return witness.New(signer, []*witness.Key{lk}, dir, nil)
}
