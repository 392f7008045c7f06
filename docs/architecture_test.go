// Package docs_test keeps the layout docs/ARCHITECTURE.md draws from decaying silently: the
// SDK stays a leaf, the domain roots stay on the standard library, and each heavy
// dependency stays in the adapter named for it. It asks the go command (go list), as
// anyone can from a shell.
package docs_test

import (
	"encoding/json"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/gxhub/gxhub/"

type pkg struct {
	ImportPath string
	Standard   bool
	Imports    []string
	Deps       []string
}

// list runs go list -json (with -deps when deps) over patterns, from the module root.
func list(t *testing.T, deps bool, patterns ...string) []pkg {
	t.Helper()
	args := []string{"list", "-json=ImportPath,Standard,Imports,Deps"}
	if deps {
		args = append(args, "-deps")
	}
	cmd := exec.Command("go", append(args, patterns...)...)
	cmd.Dir = ".."
	out, err := cmd.Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, ee.Stderr)
		}
		t.Fatalf("go %s: %v", strings.Join(args, " "), err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func short(path string) string { return strings.TrimPrefix(path, module) }

// sdkPackages is every package under sdk/ a client may import: all but the generated REST
// gateway handlers (sdk/api/gateway/..., server-side code kept beside the protos they are
// generated from).
func sdkPackages(t *testing.T) []string {
	var out []string
	for _, p := range list(t, false, "./sdk/...") {
		if !strings.HasPrefix(p.ImportPath, module+"sdk/api/gateway/") {
			out = append(out, p.ImportPath)
		}
	}
	if len(out) == 0 {
		t.Fatal("go list found no SDK package")
	}
	return out
}

// TestSDKIsALeaf: a department building on the SDK gets the wire messages, the converters
// and the domain checks, never the hub's servers, storage, metrics or REST gateway.
func TestSDKIsALeaf(t *testing.T) {
	forbidden := []string{
		module + "exchange/server", module + "certs/server", module + "ledger/server", module + "policy/server",
		module + "exchange/store", module + "cmd/",
		module + "sdk/api/gateway/",
		"github.com/prometheus/",
		"github.com/grpc-ecosystem/grpc-gateway/v2/runtime",
		"github.com/jackc/pgx", "modernc.org/sqlite", "github.com/casbin/", "github.com/hyperledger/fabric-gateway",
	}
	pkgs := sdkPackages(t)
	deps := list(t, true, pkgs...)
	for _, d := range deps {
		for _, f := range forbidden {
			if d.ImportPath == strings.TrimSuffix(f, "/") || strings.HasPrefix(d.ImportPath, f) {
				t.Errorf("the SDK (%s) depends on %s: a client must not pull in the hub's servers, storage, metrics or gateway; move what it needs into a domain package or sdk/api/convert", strings.Join(importers(deps, d.ImportPath), ", "), d.ImportPath)
			}
		}
	}
	t.Logf("go list -deps of %d SDK packages: %d packages", len(pkgs), len(deps))
}

// importers names the packages among pkgs that import path directly.
func importers(pkgs []pkg, path string) []string {
	var out []string
	for _, p := range pkgs {
		if slices.Contains(p.Imports, path) {
			out = append(out, short(p.ImportPath))
		}
	}
	return out
}

// domainRoots declare the rules and the storage ports of their domain.
var domainRoots = []string{"exchange", "ledger", "policy"}

// domainLeaves are standard-library-only rule packages that a domain root and the adapters
// both import (one implementation, no adapter importing a domain root for it). Since the
// dependencies listed are transitive, a leaf that imported anything else would fail too.
var domainLeaves = []string{"exchange/uscc"}

// TestDomainRootsAreStdlibOnly: the domain roots declare the rules and the ports with the
// standard library (each other and the domain leaves) alone, transitively; adapters
// implement them.
func TestDomainRootsAreStdlibOnly(t *testing.T) {
	for _, root := range domainRoots {
		for _, d := range list(t, true, "./"+root) {
			if !d.Standard && !slices.Contains(domainRoots, short(d.ImportPath)) && !slices.Contains(domainLeaves, short(d.ImportPath)) {
				t.Errorf("%s depends on %s: a domain root uses the standard library only; put the dependency in an adapter package and declare the port it needs in %s", root, d.ImportPath, root)
			}
		}
	}
}

// confined lists, per heavy dependency (an import path prefix), the only packages that may
// import it directly (production code; tests may use what they test against).
var confined = map[string][]string{
	// SM2/SM3/SM4 through the one adapter, certs/sm (signing, verifying, hashing and the one
	// raw <-> DER signature conversion); smx509, pkcs7 and pkcs8 where certificates, SignedData
	// and keys are parsed (the parsers must use them).
	"github.com/emmansun/gmsm/sm2": {"certs/sm"},
	"github.com/emmansun/gmsm/sm3": {"certs/sm"},
	"github.com/emmansun/gmsm/sm4": {"certs/sm"},
	"github.com/emmansun/gmsm/smx509": {"certs/sm", "certs/pki", "certs/ses", "certs/ses/sestest", "certs/ecert", "certs/ecert/ecverify",
		"certs/trust", "certs/verify", "ledger/sm2sig", "ledger/witness", "exchange/server", "certs/server", "cmd/gxctl", "cmd/gxhub/internal/hub", "sdk"},
	"github.com/emmansun/gmsm/pkcs7":        {"certs/ses"},
	"github.com/emmansun/gmsm/pkcs":         {"certs/sm", "certs/keystore"},
	"github.com/go-jose/go-jose":            {"certs/jws"},
	"github.com/casbin/casbin":              {"policy/casbinpolicy"},
	"github.com/jackc/pgx":                  {"exchange/store/postgres", "exchange/store/postgres/pgtest", "cmd/gxhub/internal/backup"},
	"modernc.org/sqlite":                    {"exchange/store/sqlite"},
	"github.com/hyperledger/fabric-gateway": {"ledger/fabric"},
	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime": {"cmd/gxhub/internal/hub", "exchange/server", "exchange/rpc",
		"sdk/api/gateway/admin/v1", "sdk/api/gateway/audit/v1", "sdk/api/gateway/certs/v1", "sdk/api/gateway/exchange/v1"},
	"github.com/prometheus/": {"cmd/gxhub/internal/hub", "exchange/server"},
}

// TestHeavyDependenciesConfined: each heavy dependency is imported only by its adapter (and
// the few packages named with it above), so that replacing or auditing it means reading
// those packages alone.
func TestHeavyDependenciesConfined(t *testing.T) {
	for _, p := range list(t, false, "./...") {
		for _, imp := range p.Imports {
			for prefix, allowed := range confined {
				if imp != prefix && !strings.HasPrefix(imp, strings.TrimSuffix(prefix, "/")+"/") && !(strings.HasSuffix(prefix, "/") && strings.HasPrefix(imp, prefix)) {
					continue
				}
				if !slices.Contains(allowed, short(p.ImportPath)) {
					t.Errorf("%s imports %s; only %s may: go through that adapter (or add the package here, in docs/ARCHITECTURE.md's terms, if it is a new adapter)", short(p.ImportPath), imp, strings.Join(allowed, ", "))
				}
			}
		}
	}
}
