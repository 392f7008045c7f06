package memory_test

import (
	"testing"

	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/ledger/ledgertest"
	"github.com/gxhub/gxhub/ledger/memory"
)

func TestStorageConformance(t *testing.T) {
	ledgertest.RunStorage(t, func(*testing.T) ledger.Storage { return memory.New() })
}
