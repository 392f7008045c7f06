package exchange_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/exchange"
)

func TestOrgCodeCheckChar(t *testing.T) {
	// Organisation codes embedded in the real 统一社会信用代码 of the vector file
	// (positions 9–17): their ninth character is the GB 11714 check character.
	for _, code := range []string{"11100000000013338W", "11430000006122244L", "11220000013544541J", "11330105002500287C"} {
		org := code[8:17]
		c, err := exchange.OrgCodeCheckChar(org[:8])
		require.NoError(t, err)
		require.Equal(t, org[8], c, code)
	}
	for _, bad := range []string{"", "1234567", "123456789", "1234567a"} {
		_, err := exchange.OrgCodeCheckChar(bad)
		require.Error(t, err, bad)
	}
}

func TestNewUSCC(t *testing.T) {
	code, err := exchange.NewUSCC("11", "500112", "22334455")
	require.NoError(t, err)
	require.NoError(t, exchange.ValidateUSCC(code))
	require.Len(t, code, 18)
	_, err = exchange.NewUSCC("11", "500112", "2233445")
	require.Error(t, err)
	_, err = exchange.NewUSCC("ZZ", "500112", "22334455")
	require.Error(t, err, "an unknown authority/type pair")
}
