package openapi_test

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-openapiv2/options"
	"github.com/stretchr/testify/require"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/gxhub/gxhub/sdk/api/openapi"

	// One line per proto package: registers its descriptors for the checks below.
	_ "github.com/gxhub/gxhub/sdk/api/admin/v1"
	_ "github.com/gxhub/gxhub/sdk/api/audit/v1"
	_ "github.com/gxhub/gxhub/sdk/api/certs/v1"
	_ "github.com/gxhub/gxhub/sdk/api/exchange/v1"
)

// swagger is the part of a Swagger 2.0 document the tests look at.
type swagger struct {
	Swagger string `json:"swagger"`
	Info    struct {
		Title string `json:"title"`
	} `json:"info"`
	SecurityDefinitions map[string]struct {
		Type        string `json:"type"`
		In          string `json:"in"`
		Name        string `json:"name"`
		Description string `json:"description"`
	} `json:"securityDefinitions"`
	Security []map[string][]string           `json:"security"`
	Paths    map[string]map[string]operation `json:"paths"`
}

type operation struct {
	OperationID string `json:"operationId"`
	Summary     string `json:"summary"`
	// Security is nil when the operation inherits the document's security
	// requirement, and an empty slice when it is public.
	Security *[]map[string][]string `json:"security"`
}

func parseSpec(t *testing.T) swagger {
	t.Helper()
	require.True(t, json.Valid(openapi.Spec), "gxhub.swagger.json is not valid JSON")
	var s swagger
	require.NoError(t, json.Unmarshal(openapi.Spec, &s))
	return s
}

func (s swagger) op(method, path string) (operation, bool) {
	o, ok := s.Paths[path][strings.ToLower(method)]
	return o, ok
}

const signatureDescription = "GXHUB-SM2 <compact JWS, alg SM2SM3, over method, path, SM3 body digest, timestamp and nonce>; see docs/AUTH.md"

func TestSpecDocument(t *testing.T) {
	s := parseSpec(t)
	require.Equal(t, "2.0", s.Swagger)
	require.Equal(t, "gxhub API", s.Info.Title)

	def, ok := s.SecurityDefinitions["DepartmentSignature"]
	require.True(t, ok, "securityDefinitions lacks DepartmentSignature")
	require.Equal(t, "apiKey", def.Type)
	require.Equal(t, "header", def.In)
	require.Equal(t, "Authorization", def.Name)
	require.Equal(t, signatureDescription, def.Description)

	require.Equal(t, []map[string][]string{{"DepartmentSignature": {}}}, s.Security,
		"every operation must require DepartmentSignature unless it opts out")
}

// TestSpecListsContractRPCs pins the RPCs, routes and public/signed status
// agreed for the first version of the API.
func TestSpecListsContractRPCs(t *testing.T) {
	s := parseSpec(t)
	tests := []struct {
		method, path, operationID string
		public                    bool
	}{
		{http.MethodGet, "/v1/whoami", "AdminService_WhoAmI", false},
		{http.MethodGet, "/v1/departments", "AdminService_ListDepartments", false},
		{http.MethodGet, "/v1/departments/{code}", "AdminService_GetDepartment", false},
		{http.MethodPost, "/v1/departments", "AdminService_RegisterDepartment", false},
		{http.MethodGet, "/v1/calendar/days/{date}", "CalendarService_GetWorkday", true},
		{http.MethodGet, "/v1/calendar:addWorkingDays", "CalendarService_AddWorkingDays", true},
		{http.MethodGet, "/v1/calendar:countWorkingDays", "CalendarService_CountWorkingDays", true},
		{http.MethodGet, "/v1/trust", "TrustService_GetTrustBundle", true},
	}
	for _, tt := range tests {
		t.Run(tt.operationID, func(t *testing.T) {
			o, ok := s.op(tt.method, tt.path)
			require.True(t, ok, "%s %s missing from gxhub.swagger.json", tt.method, tt.path)
			require.Equal(t, tt.operationID, o.OperationID)
			require.NotEmpty(t, o.Summary)
			if tt.public {
				require.NotNil(t, o.Security, "public operation must override the document's security")
				require.Empty(t, *o.Security, "public operation must need no signature")
			} else {
				require.Nil(t, o.Security, "signed operation must inherit DepartmentSignature")
			}
		})
	}
}

// gxhubFiles returns the registered proto files of the gxhub.* packages.
func gxhubFiles(t *testing.T) []protoreflect.FileDescriptor {
	t.Helper()
	var files []protoreflect.FileDescriptor
	protoregistry.GlobalFiles.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		if strings.HasPrefix(string(fd.Package()), "gxhub.") {
			files = append(files, fd)
		}
		return true
	})
	sort.Slice(files, func(i, j int) bool { return files[i].Path() < files[j].Path() })
	require.NotEmpty(t, files, "no gxhub proto registered: check the imports of this test")
	return files
}

// httpRule returns the method and path of an RPC's google.api.http rule.
func httpRule(m protoreflect.MethodDescriptor) (method, path string, ok bool) {
	rule, _ := proto.GetExtension(m.Options(), annotations.E_Http).(*annotations.HttpRule)
	if rule == nil {
		return "", "", false
	}
	return ruleRoute(rule)
}

// additionalRoutes returns the method and path of each additional_bindings entry.
func additionalRoutes(m protoreflect.MethodDescriptor) [][2]string {
	rule, _ := proto.GetExtension(m.Options(), annotations.E_Http).(*annotations.HttpRule)
	var out [][2]string
	for _, b := range rule.GetAdditionalBindings() {
		if method, path, ok := ruleRoute(b); ok {
			out = append(out, [2]string{method, path})
		}
	}
	return out
}

func ruleRoute(rule *annotations.HttpRule) (method, path string, ok bool) {
	switch p := rule.GetPattern().(type) {
	case *annotations.HttpRule_Get:
		return http.MethodGet, p.Get, true
	case *annotations.HttpRule_Post:
		return http.MethodPost, p.Post, true
	case *annotations.HttpRule_Put:
		return http.MethodPut, p.Put, true
	case *annotations.HttpRule_Patch:
		return http.MethodPatch, p.Patch, true
	case *annotations.HttpRule_Delete:
		return http.MethodDelete, p.Delete, true
	}
	return "", "", false
}

// TestEveryRPCIsRoutedAndDocumented walks every RPC of every gxhub proto: each
// needs an HTTP rule, an OpenAPI summary, and an operation in the merged
// document; the document holds no operation that is not an RPC.
func TestEveryRPCIsRoutedAndDocumented(t *testing.T) {
	s := parseSpec(t)
	seen := map[string]bool{}
	for _, fd := range gxhubFiles(t) {
		for i := 0; i < fd.Services().Len(); i++ {
			svc := fd.Services().Get(i)
			for j := 0; j < svc.Methods().Len(); j++ {
				m := svc.Methods().Get(j)
				t.Run(string(m.FullName()), func(t *testing.T) {
					method, path, ok := httpRule(m)
					require.True(t, ok, "%s has no google.api.http rule", m.FullName())
					op, _ := proto.GetExtension(m.Options(), options.E_Openapiv2Operation).(*options.Operation)
					require.NotEmpty(t, op.GetSummary(), "%s has no openapiv2_operation summary", m.FullName())

					o, ok := s.op(method, path)
					require.True(t, ok, "%s %s (%s) missing from gxhub.swagger.json: run make generate", method, path, m.FullName())
					require.Equal(t, string(svc.Name())+"_"+string(m.Name()), o.OperationID)
					seen[method+" "+path] = true
					for _, r := range additionalRoutes(m) {
						_, ok := s.op(r[0], r[1])
						require.True(t, ok, "%s %s (additional binding of %s) missing from gxhub.swagger.json", r[0], r[1], m.FullName())
						seen[r[0]+" "+r[1]] = true
					}
				})
			}
		}
	}
	for path, ops := range s.Paths {
		for method := range ops {
			require.True(t, seen[strings.ToUpper(method)+" "+path], "%s %s is in gxhub.swagger.json but no RPC routes it", method, path)
		}
	}
}

// TestFileOptionsAgree guards the merged document: protoc-gen-openapiv2 takes
// the file-level openapiv2_swagger block from one file only, so every gxhub
// proto must carry the same block.
func TestFileOptionsAgree(t *testing.T) {
	files := gxhubFiles(t)
	first, _ := proto.GetExtension(files[0].Options(), options.E_Openapiv2Swagger).(*options.Swagger)
	require.NotNil(t, first, "%s has no openapiv2_swagger file option", files[0].Path())
	for _, fd := range files[1:] {
		t.Run(fd.Path(), func(t *testing.T) {
			got, _ := proto.GetExtension(fd.Options(), options.E_Openapiv2Swagger).(*options.Swagger)
			require.NotNil(t, got, "%s has no openapiv2_swagger file option: copy the block from %s", fd.Path(), files[0].Path())
			require.True(t, proto.Equal(first, got), "openapiv2_swagger of %s differs from %s: keep the blocks identical", fd.Path(), files[0].Path())
		})
	}
}
