// Package app is gxhub's command line: it loads the configuration (file, GXHUB_*
// environment, flags) and runs the hub.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gxhub/gxhub/cmd/gxhub/internal/backup"
	"github.com/gxhub/gxhub/cmd/gxhub/internal/config"
	"github.com/gxhub/gxhub/cmd/gxhub/internal/hub"
	"github.com/gxhub/gxhub/exchange"
)

// Main runs gxhub with args and returns the exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	root := &cobra.Command{
		Use:           "gxhub",
		Short:         "gxhub — cross-department data sharing, e-certificate verification and audit hub",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(serveCmd(stdout, stderr), backupCmd(stdout), restoreCmd(stdout))
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.Execute(); err != nil {
		fmt.Fprintln(stderr, "gxhub:", err)
		return 1
	}
	return 0
}

func serveCmd(stdout, stderr io.Writer) *cobra.Command {
	var configFile string
	flagCfg := config.Default()
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the hub (gRPC and REST on one port)",
		Long: `Run the hub. Configuration comes from defaults, then --config FILE (YAML or JSON),
then GXHUB_* environment variables, then flags. With --demo the hub seeds a demo set of
departments and writes their identities under DATA_DIR/demo/<code>/ for gxctl --identity.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd, configFile, flagCfg)
			if err != nil {
				return err
			}
			ctx, stop := context.WithCancelCause(cmd.Context())
			defer stop(nil)
			sigs := make(chan os.Signal, 1)
			signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
			defer signal.Stop(sigs)
			go func() {
				select {
				case sig := <-sigs:
					stop(fmt.Errorf("signal %s", sig))
				case <-ctx.Done():
				}
			}()
			return Serve(ctx, cfg, stdout, stderr)
		},
	}
	f := cmd.Flags()
	storeFlags(f, &configFile, &flagCfg)
	f.StringVar(&flagCfg.Listen, "listen", flagCfg.Listen, "address to serve gRPC and REST on")
	f.BoolVar(&flagCfg.Demo, "demo", false, "seed demo departments and write their identities")
	f.BoolVar(&flagCfg.Insecure, "insecure", false, "serve plain HTTP instead of TLS (local use only)")
	f.StringVar(&flagCfg.CalendarFile, "calendar", "", "working-day calendar JSON overriding the embedded one")
	f.StringSliceVar(&flagCfg.TLSHosts, "tls-host", nil, "extra DNS name or IP for the TLS certificate (repeatable)")
	f.StringVar(&flagCfg.PublicURL, "public-url", "", "base URL departments and browsers reach the hub at (web sign-in audience); default from --listen/--tls-host")
	f.StringVar(&flagCfg.Anchor, "anchor", "", "where tree heads are anchored: embedded or fabric")
	f.StringVar(&flagCfg.FabricNetwork, "fabric-network", "", "Fabric connection profile (testnet/.run/network.json) when --anchor fabric")
	f.StringVar(&flagCfg.LogLevel, "log-level", flagCfg.LogLevel, "debug, info, warn or error")
	f.StringVar(&flagCfg.LogFormat, "log-format", flagCfg.LogFormat, "text or json")
	return cmd
}

// loadConfig applies defaults, the file, GXHUB_* and the flags the user set, in order.
func loadConfig(cmd *cobra.Command, configFile string, flagCfg config.Config) (config.Config, error) {
	cfg := config.Default()
	if configFile != "" {
		if err := cfg.LoadFile(configFile); err != nil {
			return cfg, err
		}
	}
	if err := cfg.LoadEnv(os.LookupEnv); err != nil {
		return cfg, err
	}
	applyFlags(cmd.Flags(), &cfg, flagCfg)
	return cfg, nil
}

// storeFlags are the flags saying where a hub's state is (serve, backup, restore).
func storeFlags(f *pflag.FlagSet, configFile *string, c *config.Config) {
	f.StringVar(configFile, "config", "", "configuration file (YAML or JSON)")
	f.StringVar(&c.DataDir, "data-dir", c.DataDir, "directory for the database, CA, TLS and demo identities")
	f.StringVar(&c.Store.Driver, "store", c.Store.Driver, "store driver: sqlite or postgres")
	f.StringVar(&c.Store.PostgresDSN, "postgres-dsn", "", "PostgreSQL DSN when --store postgres")
	f.StringVar(&c.CAPasswordFile, "ca-password-file", "", "file holding the password that encrypts the hub CA keys")
}

func backupCmd(stdout io.Writer) *cobra.Command {
	var configFile, out string
	flagCfg := config.Default()
	cmd := &cobra.Command{
		Use:   "backup --out FILE",
		Short: "Back up a hub while it serves: a consistent snapshot, its keys and a signed manifest",
		Long: `Back up the hub configured like ` + "`gxhub serve`" + ` (same --config, GXHUB_*, --data-dir,
--store, --postgres-dsn, --ca-password-file) while it serves. SQLite is copied with VACUUM
INTO (one consistent snapshot); PostgreSQL is dumped with pg_dump under a snapshot the
backup exports (the PostgreSQL client tools must be installed). The archive holds the
database, the data directory's files (CA, hub keys, TLS, identities) and a manifest signed
by the hub's key with the audit log's latest signed tree head, checked against the
snapshot's records before anything is written. With ca_password_file set, key files are
encrypted in the archive (SM4-GCM, PBKDF2-SM3); without it they are as in the data
directory: keep the archive as you keep the keys. See docs/RELIABILITY.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return fmt.Errorf("--out FILE is required (e.g. --out gxhub-$(date +%%F).backup)")
			}
			cfg, err := loadConfig(cmd, configFile, flagCfg)
			if err != nil {
				return err
			}
			res, err := backup.Backup(cmd.Context(), cfg, out, func(format string, args ...any) { fmt.Fprintf(stdout, "gxhub backup: "+format+"\n", args...) })
			if err != nil {
				return err
			}
			m := res.Manifest
			fmt.Fprintf(stdout, "backup written to %s: %s store, audit log %s with %d records, latest signed head of %d (root %x, signed %s)\n",
				out, m.Store, m.LogID, m.LogSize, m.Head.Size, m.Head.Root, m.Head.Time.Format(time.RFC3339))
			if res.Unencrypted {
				fmt.Fprintln(stdout, "WARNING: no ca_password_file is configured, so the archive holds the hub's private keys unencrypted: keep it as you keep the keys")
			}
			return nil
		},
	}
	storeFlags(cmd.Flags(), &configFile, &flagCfg)
	cmd.Flags().StringVar(&out, "out", "", "archive to write (written whole, then renamed into place)")
	return cmd
}

func restoreCmd(stdout io.Writer) *cobra.Command {
	var configFile, from, logKey string
	var force bool
	flagCfg := config.Default()
	cmd := &cobra.Command{
		Use:   "restore --from FILE --data-dir DIR",
		Short: "Restore a backup into a new data directory (and PostgreSQL schema), checked",
		Long: `Restore a gxhub backup. It refuses a non-empty data directory (or PostgreSQL schema)
unless --force, and checks the archive before writing anything: the manifest's SM2
signature (against --log-key when given), every entry's SM3, the signed head, and that the
keys decrypt (--ca-password-file). After restoring it checks that the restored store's
audit log matches the signed head again. The hub's first start on the restored data then
checks the log against that head and against the latest anchor it can reach, and refuses
to serve a log behind it. Then start it: gxhub serve --data-dir DIR (same store flags).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from == "" {
				return fmt.Errorf("--from FILE is required")
			}
			cfg, err := loadConfig(cmd, configFile, flagCfg)
			if err != nil {
				return err
			}
			var pinned []byte
			if logKey != "" {
				if pinned, err = os.ReadFile(logKey); err != nil {
					return fmt.Errorf("--log-key: %w", err)
				}
			}
			m, err := backup.Restore(cmd.Context(), backup.RestoreOptions{From: from, Config: cfg, Force: force, LogKeyPEM: pinned},
				func(format string, args ...any) { fmt.Fprintf(stdout, "gxhub restore: "+format+"\n", args...) })
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "restored %s (made %s) into %s: audit log %s with %d records, signed head of %d checked\n",
				from, m.CreatedAt.Format(time.RFC3339), cfg.DataDir, m.LogID, m.LogSize, m.Head.Size)
			fmt.Fprintf(stdout, "start it with: gxhub serve --data-dir %s", cfg.DataDir)
			if cfg.Store.Driver == "postgres" {
				fmt.Fprint(stdout, " --store postgres --postgres-dsn DSN")
			}
			fmt.Fprintln(stdout)
			return nil
		},
	}
	storeFlags(cmd.Flags(), &configFile, &flagCfg)
	cmd.Flags().StringVar(&from, "from", "", "the backup archive")
	cmd.Flags().BoolVar(&force, "force", false, "restore over a non-empty data directory or schema")
	cmd.Flags().StringVar(&logKey, "log-key", "", "the hub's public key (PEM, gxctl audit key) the archive must be signed by")
	return cmd
}

// applyFlags copies the flags the user set onto cfg.
func applyFlags(fs *pflag.FlagSet, cfg *config.Config, f config.Config) {
	set := map[string]func(){
		"data-dir":         func() { cfg.DataDir = f.DataDir },
		"listen":           func() { cfg.Listen = f.Listen },
		"demo":             func() { cfg.Demo = f.Demo },
		"insecure":         func() { cfg.Insecure = f.Insecure },
		"store":            func() { cfg.Store.Driver = f.Store.Driver },
		"postgres-dsn":     func() { cfg.Store.PostgresDSN = f.Store.PostgresDSN },
		"calendar":         func() { cfg.CalendarFile = f.CalendarFile },
		"ca-password-file": func() { cfg.CAPasswordFile = f.CAPasswordFile },
		"tls-host":         func() { cfg.TLSHosts = f.TLSHosts },
		"public-url":       func() { cfg.PublicURL = f.PublicURL },
		"anchor":           func() { cfg.Anchor = f.Anchor },
		"fabric-network":   func() { cfg.FabricNetwork = f.FabricNetwork },
		"log-level":        func() { cfg.LogLevel = f.LogLevel },
		"log-format":       func() { cfg.LogFormat = f.LogFormat },
	}
	fs.Visit(func(fl *pflag.Flag) {
		if apply, ok := set[fl.Name]; ok {
			apply()
		}
	})
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// Serve runs the hub with cfg until ctx ends. It prints the URL it serves on, and the
// steps of a start that may take a while (schema migration, demo data), on stdout; the
// log (stderr) has one line each for starting, ready, shutdown requested (with the
// signal, when ctx was cancelled with one as its cause), drained and stopped.
func Serve(ctx context.Context, cfg config.Config, stdout, stderr io.Writer) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	log.Info("starting", slog.String("data_dir", cfg.DataDir), slog.String("store", cfg.Store.Driver), slog.String("listen", cfg.Listen),
		slog.Bool("demo", cfg.Demo), slog.Int("pid", os.Getpid()))
	progress := func(format string, args ...any) { fmt.Fprintf(stdout, "gxhub: "+format+"\n", args...) }
	h, err := hub.New(ctx, cfg, log, hub.WithProgress(progress), hub.WithDeadlines(exchange.Deadlines{
		Review: cfg.Deadlines.ReviewDays, Answer: cfg.Deadlines.AnswerDays, AnswerUnpublished: cfg.Deadlines.AnswerUnpublishedDays}))
	if err != nil {
		return err
	}
	defer func() {
		if err := h.Close(); err != nil {
			log.Error("stopped with an error closing the store or audit log", slog.String("error", err.Error()))
			return
		}
		log.Info("stopped")
	}()
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s (is another hub running? stop it or choose --listen): %w", cfg.Listen, err)
	}
	url := h.URL(ln.Addr())
	if cfg.Demo {
		progress("seeding demo departments, catalogue and records (kept if present)")
		dirs, err := h.SeedDemo(ctx, url)
		if err != nil {
			ln.Close()
			return fmt.Errorf("seed demo data: %w", err)
		}
		fmt.Fprintf(stdout, "demo identities (use with gxctl --identity DIR):\n")
		for _, d := range dirs {
			fmt.Fprintf(stdout, "  %s\n", d)
		}
	}
	fmt.Fprintf(stdout, "gxhub serving on %s\n", url)
	if h.TLS != nil {
		fmt.Fprintf(stdout, "TLS CA for clients: %s\n", hub.TLSFiles{Dir: cfg.DataDir + "/tls"}.CACert())
	}
	if addr := os.Getenv("GXHUB_PPROF"); addr != "" {
		// Profiling for benchmarks only, on its own listener (keep it on loopback).
		go func() {
			mux := http.NewServeMux()
			mux.HandleFunc("/debug/pprof/", pprof.Index)
			mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
			srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
			log.Warn("pprof listening", slog.String("addr", addr), slog.Any("error", srv.ListenAndServe()))
		}()
	}
	log.Info("serving", slog.String("url", url), slog.String("store", cfg.Store.Driver), slog.Bool("tls", h.TLS != nil))
	serveCtx, stopServe := context.WithCancel(context.Background())
	defer stopServe()
	go func() {
		select {
		case <-ctx.Done():
		case <-serveCtx.Done(): // serving failed on its own
			return
		}
		cause := "context cancelled"
		if c := context.Cause(ctx); c != nil && !errors.Is(c, context.Canceled) {
			cause = c.Error()
		}
		log.Info("shutdown requested", slog.String("by", cause))
		stopServe()
	}()
	return h.Serve(serveCtx, ln)
}
