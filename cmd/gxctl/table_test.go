package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTableAlignsChinese(t *testing.T) {
	var tw table
	tw.row("CODE", "NAME", "LEVEL")
	tw.row("1", "重庆市公安局", "provincial")
	tw.row("22", "重庆市渝北区政务服务管理办公室", "county")
	var b bytes.Buffer
	require.NoError(t, tw.write(&b))
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	require.Len(t, lines, 3)
	// The third column starts at the same display column on every line.
	col := func(l string) int { return displayWidth(l[:strings.LastIndex(l, "  ")+2]) }
	require.Equal(t, col(lines[0]), col(lines[1]))
	require.Equal(t, col(lines[0]), col(lines[2]))
	require.Equal(t, 4, displayWidth("公安"))
}
