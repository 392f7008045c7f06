// Command openapi3 brings the OpenAPI 3 document (gnostic's protoc-gen-openapi output) in
// line with the Swagger 2.0 document, which protoc-gen-openapiv2 makes from the protos'
// openapiv2 options that protoc-gen-openapi does not read. One source, the protos; gen.sh
// runs this on the generated output, so check.sh sees the result like any generated file.
// It sets, from the Swagger document:
//   - the DepartmentSignature security scheme, required by default, and no security on
//     the public operations;
//   - each operation's summary, description and operationId (matched by method and path;
//     an RPC with two routes gets two distinct ids, as in the Swagger document);
//
// and, for OpenAPI 3's own rules: a server ("/", the hub serving the document), and path
// parameters named like the other routes of the same path ("{resource.code}" becomes
// "{code}" beside "/v1/resources/{code}": OpenAPI 3 forbids paths that differ only in
// parameter names).
//
//	go run ./openapi3 SWAGGER2.json OPENAPI3.yaml   (rewrites OPENAPI3.yaml)
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

type swaggerOp struct {
	OperationID string                 `json:"operationId"`
	Summary     string                 `json:"summary"`
	Description string                 `json:"description"`
	Security    *[]map[string][]string `json:"security"`
}

type swagger struct {
	SecurityDefinitions map[string]struct {
		Type        string `json:"type"`
		In          string `json:"in"`
		Name        string `json:"name"`
		Description string `json:"description"`
	} `json:"securityDefinitions"`
	Security []map[string][]string          `json:"security"`
	Paths    map[string]map[string]swaggerOp `json:"paths"`
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: openapi3 SWAGGER2.json OPENAPI3.yaml")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "openapi3:", err)
		os.Exit(1)
	}
}

func run(v2Path, v3Path string) error {
	b, err := os.ReadFile(v2Path)
	if err != nil {
		return err
	}
	var v2 swagger
	if err := json.Unmarshal(b, &v2); err != nil {
		return fmt.Errorf("%s: %w", v2Path, err)
	}
	raw, err := os.ReadFile(v3Path)
	if err != nil {
		return err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return fmt.Errorf("%s: %w", v3Path, err)
	}
	root := doc.Content[0]
	paths := get(root, "paths")
	if paths == nil {
		return fmt.Errorf("%s has no paths", v3Path)
	}

	// Operations: summary, description, operationId and security from the Swagger document.
	matched, total := 0, 0
	for _, item := range v2.Paths {
		total += len(item)
	}
	for i := 0; i+1 < len(paths.Content); i += 2 {
		path, item := paths.Content[i].Value, paths.Content[i+1]
		for j := 0; j+1 < len(item.Content); j += 2 {
			method, op := item.Content[j].Value, item.Content[j+1]
			src, ok := v2.Paths[path][method]
			if !ok {
				return fmt.Errorf("%s %s of %s is not in %s", method, path, v3Path, v2Path)
			}
			matched++
			if src.Summary != "" {
				insertAfter(op, "tags", "summary", str(src.Summary))
			}
			if src.Description != "" {
				set(op, "description", str(src.Description))
			}
			set(op, "operationId", str(src.OperationID))
			if src.Security != nil && len(*src.Security) == 0 {
				set(op, "security", &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle})
			}
		}
	}
	if matched != total {
		return fmt.Errorf("%d operations in %s, %d in %s", total, v2Path, matched, v3Path)
	}
	if err := renameDottedParams(paths); err != nil {
		return err
	}

	// Security scheme and the default requirement.
	names := make([]string, 0, len(v2.SecurityDefinitions))
	for n := range v2.SecurityDefinitions {
		names = append(names, n)
	}
	sort.Strings(names)
	schemes := &yaml.Node{Kind: yaml.MappingNode}
	for _, n := range names {
		d := v2.SecurityDefinitions[n]
		s := &yaml.Node{Kind: yaml.MappingNode}
		set(s, "type", str(d.Type))
		set(s, "in", str(d.In))
		set(s, "name", str(d.Name))
		set(s, "description", str(d.Description))
		set(schemes, n, s)
	}
	components := get(root, "components")
	if components == nil {
		components = &yaml.Node{Kind: yaml.MappingNode}
		set(root, "components", components)
	}
	set(components, "securitySchemes", schemes)
	sec := &yaml.Node{Kind: yaml.SequenceNode}
	for _, req := range v2.Security {
		m := &yaml.Node{Kind: yaml.MappingNode}
		keys := make([]string, 0, len(req))
		for k := range req {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			set(m, k, &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle})
		}
		sec.Content = append(sec.Content, m)
	}
	server := &yaml.Node{Kind: yaml.MappingNode}
	set(server, "url", str("/"))
	set(server, "description", str("the hub serving this document (/openapi.yaml)"))
	insertAfter(root, "info", "servers", &yaml.Node{Kind: yaml.SequenceNode, Content: []*yaml.Node{server}})
	insertAfter(root, "servers", "security", sec)

	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(4)
	if err := enc.Encode(&doc); err != nil {
		return err
	}
	return os.WriteFile(v3Path, out.Bytes(), 0o644)
}

var dottedParam = regexp.MustCompile(`\{([a-z_]+)\.([a-z_]+)\}`)

// renameDottedParams renames path parameters like {resource.code} to {code} (path and
// parameter object), moving the operations into the path item of the renamed path when
// another route already has it.
func renameDottedParams(paths *yaml.Node) error {
	for i := 0; i+1 < len(paths.Content); i += 2 {
		path := paths.Content[i].Value
		m := dottedParam.FindAllStringSubmatch(path, -1)
		if m == nil {
			continue
		}
		renamed := dottedParam.ReplaceAllString(path, "{$2}")
		item := paths.Content[i+1]
		for j := 1; j < len(item.Content); j += 2 {
			params := get(item.Content[j], "parameters")
			if params == nil {
				continue
			}
			for _, p := range params.Content {
				if in := get(p, "in"); in == nil || in.Value != "path" {
					continue
				}
				if name := get(p, "name"); name != nil && strings.Contains(name.Value, ".") {
					name.Value = name.Value[strings.LastIndex(name.Value, ".")+1:]
				}
			}
		}
		if target := get(paths, renamed); target != nil {
			for j := 0; j+1 < len(item.Content); j += 2 {
				if get(target, item.Content[j].Value) != nil {
					return fmt.Errorf("%s %s and %s %s are one route", item.Content[j].Value, path, item.Content[j].Value, renamed)
				}
				target.Content = append(target.Content, item.Content[j], item.Content[j+1])
			}
			paths.Content = append(paths.Content[:i], paths.Content[i+2:]...)
			i -= 2
			continue
		}
		paths.Content[i].Value = renamed
	}
	return nil
}

func str(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }

// get returns the value of key in mapping m, or nil.
func get(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// set replaces or appends key in mapping m.
func set(m *yaml.Node, key string, v *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content[i+1] = v
			return
		}
	}
	m.Content = append(m.Content, str(key), v)
}

// insertAfter puts key: v after the entry `after` of mapping m (at the end if absent),
// or replaces key's value where it is.
func insertAfter(m *yaml.Node, after, key string, v *yaml.Node) {
	if get(m, key) != nil {
		set(m, key, v)
		return
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == after {
			rest := append([]*yaml.Node{str(key), v}, m.Content[i+2:]...)
			m.Content = append(m.Content[:i+2], rest...)
			return
		}
	}
	set(m, key, v)
}
