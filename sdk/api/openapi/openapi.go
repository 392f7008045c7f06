// Package openapi embeds the OpenAPI documents of the gxhub REST API, generated from
// every proto under sdk/api: Swagger 2.0 (gxhub.swagger.json, protoc-gen-openapiv2,
// merged) and OpenAPI 3.0 (openapi.yaml, gnostic's protoc-gen-openapi, with the security
// of the Swagger document). Serve them, or hand them to client generators; do not edit
// them by hand: sdk/api/gen.sh regenerates them and sdk/api/check.sh verifies them.
package openapi

import _ "embed" // for go:embed

// Spec is the OpenAPI 2.0 document of the gxhub API as JSON
// (gxhub.swagger.json). Treat it as read-only: it is shared by all callers.
//
//go:embed gxhub.swagger.json
var Spec []byte

// SpecV3 is the OpenAPI 3.0 document of the gxhub API as YAML (openapi.yaml). Treat it
// as read-only.
//
//go:embed openapi.yaml
var SpecV3 []byte
