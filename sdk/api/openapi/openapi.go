// Package openapi embeds the OpenAPI (Swagger 2.0) document of the gxhub REST
// API, merged from every proto under sdk/api by protoc-gen-openapiv2. Serve
// it, or hand it to client generators; do not edit gxhub.swagger.json by
// hand: sdk/api/gen.sh regenerates it and sdk/api/check.sh verifies it.
package openapi

import _ "embed" // for go:embed

// Spec is the OpenAPI 2.0 document of the gxhub API as JSON
// (gxhub.swagger.json). Treat it as read-only: it is shared by all callers.
//
//go:embed gxhub.swagger.json
var Spec []byte
