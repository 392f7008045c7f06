package openapi_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/gxhub/gxhub/sdk/api/openapi"
)

// validator returns node, after checking that the independent validators are installed
// (@apidevtools/swagger-parser and @redocly/cli, pinned in validate/package-lock.json).
// Without them the test is skipped loudly, except under CI=true where it fails.
func validator(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	for _, p := range []string{"@apidevtools/swagger-parser/package.json", ".bin/redocly"} {
		if err == nil {
			_, err = os.Stat(filepath.Join("validate", "node_modules", p))
		}
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the OpenAPI validator is required under CI=true: run .ci/setup.sh (sdk/api/openapi/validate/setup.sh): %v", err)
		}
		t.Skipf("SKIPPING OpenAPI validation: node or swagger-parser missing (run sdk/api/openapi/validate/setup.sh): %v", err)
	}
	return node
}

// validate runs swagger-parser over files; with redocly, Redocly CLI's lint too (OpenAPI 3
// rules beyond the schema). It returns the output and whether every check passed.
func validate(t *testing.T, redocly bool, files ...string) (string, bool) {
	t.Helper()
	node := validator(t)
	out, err := exec.Command(node, append([]string{filepath.Join("validate", "validate.js")}, files...)...).CombinedOutput()
	ok := exitOK(t, err, out)
	if redocly {
		args := append([]string{filepath.Join("validate", "node_modules", ".bin", "redocly"), "lint", "--config", filepath.Join("validate", "redocly.yaml"), "--format", "stylish"}, files...)
		lint, err := exec.Command(node, args...).CombinedOutput()
		out = append(out, lint...)
		ok = exitOK(t, err, lint) && ok
	}
	return string(out), ok
}

func exitOK(t *testing.T, err error, out []byte) bool {
	t.Helper()
	if _, exited := err.(*exec.ExitError); err != nil && !exited {
		t.Fatalf("run the validator: %v: %s", err, out)
	}
	return err == nil
}

// TestDocumentsValidate checks both served documents with a validator independent of the
// generators, and that it does refuse a broken document.
func TestDocumentsValidate(t *testing.T) {
	out, ok := validate(t, false, "gxhub.swagger.json", "openapi.yaml")
	require.True(t, ok, out)
	require.Contains(t, out, "VALID gxhub.swagger.json: Swagger 2.0")
	require.Contains(t, out, "VALID openapi.yaml: OpenAPI 3.0.3")
	out, ok = validate(t, true, "openapi.yaml")
	require.True(t, ok, out)
	require.Contains(t, out, "Your API description is valid")

	// The validator can fail: a path parameter no longer declared, a duplicated operationId.
	broken := strings.Replace(string(openapi.SpecV3), "                - name: code\n                  in: path\n", "                - name: code\n                  in: query\n", 1)
	require.NotEqual(t, string(openapi.SpecV3), broken, "the document no longer has a path parameter named code")
	p := filepath.Join(t.TempDir(), "broken.yaml")
	require.NoError(t, os.WriteFile(p, []byte(broken), 0o600))
	out, ok = validate(t, true, p)
	require.False(t, ok, out)
	require.Contains(t, out, "path-parameters-defined")
	dup := strings.Replace(string(openapi.SpecV3), "operationId: AdminService_WhoAmI", "operationId: AdminService_GetDepartment", 1)
	require.NoError(t, os.WriteFile(p, []byte(dup), 0o600))
	out, ok = validate(t, true, p)
	require.False(t, ok, out)
	require.Contains(t, out, "operation-operationId-unique")
	// And the Swagger 2.0 schema check: an operation without responses.
	v2 := strings.Replace(string(openapi.Spec), `"responses": {`, `"responsez": {`, 1)
	p2 := filepath.Join(t.TempDir(), "broken.json")
	require.NoError(t, os.WriteFile(p2, []byte(v2), 0o600))
	out, ok = validate(t, false, p2)
	require.False(t, ok, out)
	require.Contains(t, out, "INVALID")
}

type v3doc struct {
	OpenAPI  string                `yaml:"openapi"`
	Security []map[string][]string `yaml:"security"`
	Paths    map[string]map[string]struct {
		OperationID string                 `yaml:"operationId"`
		Summary     string                 `yaml:"summary"`
		Security    *[]map[string][]string `yaml:"security"`
	} `yaml:"paths"`
	Components struct {
		SecuritySchemes map[string]struct {
			Type, In, Name, Description string
		} `yaml:"securitySchemes"`
	} `yaml:"components"`
}

// TestV3MatchesV2 checks that the OpenAPI 3 document describes the same API as the
// Swagger one: the same operations (ids) on the same routes, the same signature scheme, the
// same public operations, and every operation summarised.
func TestV3MatchesV2(t *testing.T) {
	v2 := parseSpec(t)
	var v3 v3doc
	require.NoError(t, yaml.Unmarshal(openapi.SpecV3, &v3))
	require.Equal(t, "3.0.3", v3.OpenAPI)
	require.Equal(t, []map[string][]string{{"DepartmentSignature": {}}}, v3.Security)
	s := v3.Components.SecuritySchemes["DepartmentSignature"]
	require.Equal(t, "apiKey", s.Type)
	require.Equal(t, "header", s.In)
	require.Equal(t, "Authorization", s.Name)
	require.Equal(t, signatureDescription, s.Description)

	ops := func(public bool) (v2ops, v3ops []string) {
		for path, item := range v2.Paths {
			// OpenAPI 3 forbids paths differing only in parameter names: the v3 document
			// names {resource.code} {code}, like the route beside it.
			path = strings.ReplaceAll(path, "{resource.code}", "{code}")
			for method, o := range item {
				if (o.Security != nil && len(*o.Security) == 0) == public {
					v2ops = append(v2ops, method+" "+path+" "+o.OperationID)
				}
			}
		}
		for path, item := range v3.Paths {
			for method, o := range item {
				require.NotEmpty(t, o.Summary, "%s %s", method, path)
				if (o.Security != nil && len(*o.Security) == 0) == public {
					v3ops = append(v3ops, method+" "+path+" "+o.OperationID)
				}
			}
		}
		sort.Strings(v2ops)
		sort.Strings(v3ops)
		return
	}
	a, b := ops(false)
	require.NotEmpty(t, a)
	require.Equal(t, a, b, "signed operations")
	a, b = ops(true)
	require.NotEmpty(t, a)
	require.Equal(t, a, b, "public operations")
}
