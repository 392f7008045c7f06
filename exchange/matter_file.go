package exchange

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// MatterCSVHeader is the header of a matter import file: one row per material, the matter's
// own columns repeated (or left empty) on the rows of the same code. items are separated by
// ';'. A matter without materials is one row with empty material columns.
var MatterCSVHeader = []string{"code", "name", "department", "time_limit_days", "basis_kind", "basis_title", "basis_article",
	"basis_doc_number", "material_id", "material_name", "resource", "items", "ecert_type"}

// ParseMattersCSV reads matters from a CSV file with MatterCSVHeader (UTF-8, an optional
// byte-order mark). Rows of one code must be consecutive. It checks the file's shape; each
// matter is validated when it is registered. The error names the line.
func ParseMattersCSV(r io.Reader) ([]*Matter, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = false
	head, err := cr.Read()
	if err != nil {
		return nil, Errorf(KindInvalid, "MATTER_FILE_INVALID", "the matter file has no header line: it starts with %s", strings.Join(MatterCSVHeader, ","))
	}
	if len(head) > 0 {
		head[0] = strings.TrimPrefix(head[0], "\ufeff")
	}
	col := map[string]int{}
	for i, h := range head {
		col[strings.ToLower(strings.TrimSpace(h))] = i
	}
	for _, h := range MatterCSVHeader {
		if _, ok := col[h]; !ok {
			return nil, Errorf(KindInvalid, "MATTER_FILE_INVALID", "the matter file's header lacks column %q: it must name %s", h, strings.Join(MatterCSVHeader, ","))
		}
	}
	var out []*Matter
	seen := map[string]bool{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			return nil, Wrap(KindInvalid, "MATTER_FILE_INVALID", err, "the matter file does not parse as CSV: %v", err)
		}
		get := func(name string) string {
			if i := col[name]; i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		code := get("code")
		if code == "" {
			return nil, Errorf(KindInvalid, "MATTER_FILE_INVALID", "line %d: code is empty", line)
		}
		var m *Matter
		if n := len(out); n > 0 && out[n-1].Code == code {
			m = out[n-1]
		} else {
			if seen[code] {
				return nil, Errorf(KindInvalid, "MATTER_FILE_INVALID", "line %d: matter %s appears again after other matters: keep its rows together", line, code)
			}
			seen[code] = true
			m = &Matter{Code: code, Name: get("name"), Department: get("department"),
				LegalBasis: LegalBasis{Kind: LegalBasisKind(get("basis_kind")), Title: get("basis_title"), Article: get("basis_article"), DocNumber: get("basis_doc_number")}}
			if v := get("time_limit_days"); v != "" {
				if m.TimeLimit, err = strconv.Atoi(v); err != nil {
					return nil, Errorf(KindInvalid, "MATTER_FILE_INVALID", "line %d: time_limit_days %q is not a whole number of working days", line, v)
				}
			}
			out = append(out, m)
		}
		if id := get("material_id"); id != "" {
			mt := Material{ID: id, Name: get("material_name"), Resource: get("resource"), ECertType: get("ecert_type")}
			if items := get("items"); items != "" {
				for _, it := range strings.FieldsFunc(items, func(r rune) bool { return r == ';' || r == '；' }) {
					mt.Items = append(mt.Items, strings.TrimSpace(it))
				}
			}
			m.Materials = append(m.Materials, mt)
		}
		if len(out) > 10000 {
			return nil, Errorf(KindInvalid, "MATTER_FILE_INVALID", "the matter file holds more than 10000 matters: split it")
		}
	}
	if len(out) == 0 {
		return nil, Errorf(KindInvalid, "MATTER_FILE_INVALID", "the matter file holds no matter")
	}
	return out, nil
}

// WriteMattersCSV writes matters in the import format (for export and round trips).
func WriteMattersCSV(w io.Writer, ms []*Matter) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(MatterCSVHeader); err != nil {
		return err
	}
	for _, m := range ms {
		row := func(mt Material) []string {
			return []string{m.Code, m.Name, m.Department, strconv.Itoa(m.TimeLimit), string(m.LegalBasis.Kind), m.LegalBasis.Title,
				m.LegalBasis.Article, m.LegalBasis.DocNumber, mt.ID, mt.Name, mt.Resource, strings.Join(mt.Items, ";"), mt.ECertType}
		}
		if len(m.Materials) == 0 {
			if err := cw.Write(row(Material{})); err != nil {
				return err
			}
		}
		for _, mt := range m.Materials {
			if err := cw.Write(row(mt)); err != nil {
				return err
			}
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write matters: %w", err)
	}
	return nil
}
