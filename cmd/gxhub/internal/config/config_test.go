package config_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/cmd/gxhub/internal/config"
)

func TestDefaultsValidate(t *testing.T) {
	c := config.Default()
	require.NoError(t, c.Validate())
	require.Equal(t, "127.0.0.1:8443", c.Listen)
	require.Equal(t, "sqlite", c.Store.Driver)
}

func TestLayering(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "gxhub.yaml")
	require.NoError(t, os.WriteFile(f, []byte("listen: 0.0.0.0:9000\nstore:\n  driver: postgres\n  postgres_dsn: postgres://file\nmax_clock_skew: 2m\n"), 0o600))
	c := config.Default()
	require.NoError(t, c.LoadFile(f))
	env := map[string]string{"GXHUB_POSTGRES_DSN": "postgres://env", "GXHUB_DEADLINE_ANSWER_DAYS": "7", "GXHUB_TLS_HOSTS": "hub.gov.cn, 10.0.0.1", "GXHUB_INSECURE": "true"}
	require.NoError(t, c.LoadEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }))
	require.NoError(t, c.Validate())
	require.Equal(t, "0.0.0.0:9000", c.Listen)
	require.Equal(t, "postgres://env", c.Store.PostgresDSN, "env overrides file")
	require.Equal(t, 2*time.Minute, c.MaxClockSkew)
	require.Equal(t, []string{"hub.gov.cn", "10.0.0.1"}, c.TLSHosts)
	require.True(t, c.Insecure)
	require.Equal(t, config.DeadlineConfig{ReviewDays: 2, AnswerDays: 7, AnswerUnpublishedDays: 10, ObjectionDays: 5, ProposalDays: 5}, c.Deadlines)
	c.Deadlines.ReviewDays = 0
	require.ErrorContains(t, c.Validate(), "deadlines.review_days")
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	unknown := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(unknown, []byte("listn: x\n"), 0o600))
	c := config.Default()
	require.ErrorContains(t, c.LoadFile(unknown), "listn")

	c = config.Default()
	err := c.LoadEnv(func(k string) (string, bool) {
		if k == "GXHUB_MAX_CLOCK_SKEW" {
			return "five minutes", true
		}
		return "", false
	})
	require.ErrorContains(t, err, "GXHUB_MAX_CLOCK_SKEW")

	c = config.Default()
	c.Listen = "nonsense"
	c.Store.Driver = "postgres"
	c.LogLevel = "loud"
	err = c.Validate()
	require.ErrorContains(t, err, "host:port")
	require.ErrorContains(t, err, "postgres_dsn")
	require.ErrorContains(t, err, "log_level")
}
