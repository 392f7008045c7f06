package main

import (
	"bytes"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestProgress(t *testing.T) {
	for _, tc := range []struct {
		name  string
		tty   bool
		total int
		steps []int
		gap   time.Duration // clock advance between steps
		want  string
	}{
		{"plain, fast steps: only the final count", false, 300, []int{100, 200, 300}, 10 * time.Millisecond, "published 300/300 records\n"},
		{"plain, slow steps: a line a second", false, 300, []int{100, 200, 300}, time.Second,
			"published 100/300 records\npublished 200/300 records\npublished 300/300 records\n"},
		{"plain, unknown total", false, 0, []int{7}, 0, "published 7 records\n"},
		{"terminal: bar redrawn in place", true, 4, []int{1, 4}, time.Second,
			"\r\033[Kpublished [#######-----------------------]  25% 1/4 records" +
				"\r\033[Kpublished [##############################] 100% 4/4 records" +
				"\r\033[Kpublished [##############################] 100% 4/4 records\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			now := time.Unix(1_800_000_000, 0)
			p := newProgress(&buf, "published", "records", tc.total)
			p.tty, p.now = tc.tty, func() time.Time { return now }
			p.last = now // the operation just started
			for _, n := range tc.steps {
				now = now.Add(tc.gap)
				p.set(n, "")
			}
			p.done()
			require.Equal(t, tc.want, buf.String())
		})
	}
	t.Run("detail lines", func(t *testing.T) {
		var buf bytes.Buffer
		p := newProgress(&buf, "published", "records", 2)
		p.set(1, "batch b-1 audit #3")
		p.set(2, "batch b-2 audit #4")
		p.done()
		require.Equal(t, "batch b-1 audit #3\nbatch b-2 audit #4\npublished 2/2 records\n", buf.String())
	})
	t.Run("clear before other output on a terminal", func(t *testing.T) {
		var buf bytes.Buffer
		p := newProgress(&buf, "verified", "files", 0)
		p.tty = true
		p.clear() // nothing drawn yet
		p.set(3, "")
		p.clear()
		require.Equal(t, "\r\033[Kverified 3 files\r\033[K", buf.String())
	})
	t.Run("a file is not a terminal", func(t *testing.T) {
		f, err := os.Create(t.TempDir() + "/err")
		require.NoError(t, err)
		defer f.Close()
		require.False(t, isTerminal(f))
		require.False(t, isTerminal(&bytes.Buffer{}))
	})
}
