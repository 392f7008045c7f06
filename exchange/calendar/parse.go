package calendar

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// File format (cn-workday-calendar.json):
//
//	{
//	  "about": "free text", "source": "free text",
//	  "years": {
//	    "2026": {
//	      "holidays": [{"name": "春节", "from": "2026-02-15", "to": "2026-02-23"}, ...],
//	      "makeup_workdays": ["2026-02-14", ...]
//	    }
//	  }
//	}
//
// Unknown keys, duplicate keys and trailing data are rejected so that a typo in a
// hand-edited file ("makeup_workday", a year pasted twice) fails loudly instead of
// silently changing deadlines.

const (
	// firstSupportedYear is the first full year of the Saturday+Sunday weekend, which began
	// on 1995-05-01; before it the weekday rule this package applies does not hold.
	firstSupportedYear = 1996
	// maxHolidayDays bounds one holiday range; announced holidays last days, not months,
	// so a longer range is almost certainly a typo in from/to.
	maxHolidayDays = 31
	// maxFileSize bounds Load; the file is a few kilobytes per decade.
	maxFileSize = 1 << 20
	// maxDepth bounds JSON nesting; the format needs 5 levels.
	maxDepth = 16
)

type fileJSON struct {
	About  string                     `json:"about"`
	Source string                     `json:"source"`
	Years  map[string]json.RawMessage `json:"years"`
}

type yearJSON struct {
	Holidays []holidayJSON `json:"holidays"`
	Makeup   []string      `json:"makeup_workdays"`
}

type holidayJSON struct {
	Name string `json:"name"`
	From string `json:"from"`
	To   string `json:"to"`
}

var yearKeyRE = regexp.MustCompile(`^[0-9]{4}$`)

// Load reads and parses a calendar file (same format as the embedded
// cn-workday-calendar.json). Errors name the file and the offending field or date.
func Load(path string) (*Calendar, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("calendar: open %s: %w", path, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("calendar: read %s: %w", path, err)
	}
	if len(b) > maxFileSize {
		return nil, fmt.Errorf("calendar: %s is larger than %d bytes; a working-day calendar is a few KB: check the path", path, maxFileSize)
	}
	c, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Parse parses and validates a calendar in the cn-workday-calendar.json format. It
// rejects: malformed JSON, unknown or duplicate keys, an empty or missing "years" map,
// year keys that are not 4-digit years from 1996 on, a year without holidays, dates not
// written YYYY-MM-DD, a holiday without a name, from after to, a range longer than 31 days,
// a holiday or make-up date outside its year key (split a range that crosses New Year into
// both years), a date in two holidays or listed twice as a make-up day, a date that is both
// a holiday and a make-up working day, and a make-up working day that is not a Saturday or
// Sunday.
func Parse(b []byte) (*Calendar, error) { return parse(b, SourceFile) }

func parse(b []byte, kind SourceKind) (*Calendar, error) {
	if err := checkStructure(b); err != nil {
		return nil, fmt.Errorf("calendar: %w", err)
	}
	var f fileJSON
	if err := strictUnmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("calendar: %w", err)
	}
	if len(f.Years) == 0 {
		return nil, errors.New(`calendar: "years" is missing or empty: the file must announce at least one year`)
	}
	c := &Calendar{years: make(map[int]*yearTable, len(f.Years))}
	for key, raw := range f.Years {
		if !yearKeyRE.MatchString(key) {
			return nil, fmt.Errorf("calendar: years.%q: a year key must be a 4-digit year such as \"2026\"", key)
		}
		y, _ := strconv.Atoi(key) // cannot fail after the regexp
		if y < firstSupportedYear {
			return nil, fmt.Errorf("calendar: years.%s: years before %d are not supported (the Saturday and Sunday weekend began on 1995-05-01)", key, firstSupportedYear)
		}
		var yj yearJSON
		if err := strictUnmarshal(raw, &yj); err != nil {
			return nil, fmt.Errorf("calendar: years.%s: %w", key, err)
		}
		t, err := buildYear(y, &yj)
		if err != nil {
			return nil, fmt.Errorf("calendar: years.%s: %w", key, err)
		}
		t.source = Source{Kind: kind, Text: strings.TrimSpace(f.Source)}
		c.years[y] = t
	}
	return c, nil
}

func buildYear(y int, yj *yearJSON) (*yearTable, error) {
	first := dateFromYMD(y, time.January, 1)
	next := dateFromYMD(y+1, time.January, 1)
	t := &yearTable{first: first, flags: make([]uint8, next-first), holidays: map[date]string{}}
	if len(yj.Holidays) == 0 {
		return nil, errors.New(`"holidays" is missing or empty: every announced year has public holidays`)
	}
	for i, h := range yj.Holidays {
		name := strings.TrimSpace(h.Name)
		if name == "" {
			return nil, fmt.Errorf("holidays[%d]: \"name\" is missing or empty", i)
		}
		where := fmt.Sprintf("holidays[%d] %q", i, name)
		from, err := parseDate(h.From)
		if err != nil {
			return nil, fmt.Errorf("%s: from: %w", where, err)
		}
		to, err := parseDate(h.To)
		if err != nil {
			return nil, fmt.Errorf("%s: to: %w", where, err)
		}
		if from > to {
			return nil, fmt.Errorf("%s: from %s is after to %s", where, from, to)
		}
		if to-from+1 > maxHolidayDays {
			return nil, fmt.Errorf("%s: %s to %s is %d days; a holiday range longer than %d days is almost certainly a typo", where, from, to, to-from+1, maxHolidayDays)
		}
		for _, d := range []date{from, to} {
			if d < first || d >= next {
				return nil, fmt.Errorf("%s: %s is outside %d: list each date under its own year (split a range that crosses New Year)", where, d, y)
			}
		}
		for d := from; d <= to; d++ {
			if other, dup := t.holidays[d]; dup {
				return nil, fmt.Errorf("%s: %s is already in holiday %q: holiday ranges must not overlap", where, d, other)
			}
			t.holidays[d] = name
			t.flags[d-first] |= flagHoliday
		}
	}
	for i, s := range yj.Makeup {
		where := fmt.Sprintf("makeup_workdays[%d]", i)
		d, err := parseDate(s)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		if d < first || d >= next {
			return nil, fmt.Errorf("%s: %s is outside %d: list it under its own year", where, d, y)
		}
		if name, ok := t.holidays[d]; ok {
			return nil, fmt.Errorf("%s: %s is both a make-up working day and part of holiday %q: fix one of the two", where, d, name)
		}
		if t.flags[d-first]&flagMakeup != 0 {
			return nil, fmt.Errorf("%s: %s is listed twice", where, d)
		}
		if wd := d.weekday(); wd != time.Saturday && wd != time.Sunday {
			return nil, fmt.Errorf("%s: %s is a %s: make-up working days are always a Saturday or Sunday; check the date", where, d, wd)
		}
		t.flags[d-first] |= flagMakeup
	}
	t.finish()
	return t, nil
}

// parseDate parses a strict YYYY-MM-DD date.
func parseDate(s string) (date, error) {
	tm, err := time.Parse(time.DateOnly, s)
	if err != nil || tm.Format(time.DateOnly) != s {
		return 0, fmt.Errorf("%q is not a valid date: write YYYY-MM-DD, e.g. 2026-02-14", s)
	}
	return dateFromYMD(tm.Year(), tm.Month(), tm.Day()), nil
}

// strictUnmarshal decodes one JSON value into v, rejecting unknown fields.
func strictUnmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return describeJSONError(err)
	}
	return nil
}

func describeJSONError(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("invalid JSON: the file ends before its object is closed (truncated?)")
	case errors.As(err, &se):
		return fmt.Errorf("invalid JSON at byte %d: %v", se.Offset, se)
	case errors.As(err, &te):
		return fmt.Errorf("%s: a JSON %s cannot be a %s", orRoot(te.Field), te.Value, te.Type)
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return fmt.Errorf("%s: the format allows only about, source, years; holidays, makeup_workdays; name, from, to", strings.TrimPrefix(err.Error(), "json: "))
	}
	return err
}

// checkStructure rejects what encoding/json accepts silently: duplicate object keys (the
// last would win), trailing data after the top-level value, a top-level value that is not
// an object, and excessive nesting.
func checkStructure(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		if err == io.EOF {
			return errors.New("the file is empty: expected a JSON object with \"years\"")
		}
		return describeJSONError(err)
	}
	if tok != json.Delim('{') {
		return errors.New("the file must be a JSON object with \"years\"")
	}
	if err := walkObject(dec, "", 1); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("unexpected data after the JSON object: the file must hold exactly one object")
	}
	return nil
}

// walkObject walks the members of an object whose '{' has been read.
func walkObject(dec *json.Decoder, path string, depth int) error {
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return describeJSONError(err)
		}
		key, ok := tok.(string)
		if !ok {
			return fmt.Errorf("%s: expected an object key", orRoot(path))
		}
		p := strings.TrimPrefix(path+"."+key, ".")
		if seen[key] {
			return fmt.Errorf("%s: key %q appears twice: remove or rename one", p, key)
		}
		seen[key] = true
		if err := walkValue(dec, p, depth); err != nil {
			return err
		}
	}
	_, err := dec.Token() // '}'
	return describeJSONErrorOrNil(err)
}

func walkValue(dec *json.Decoder, path string, depth int) error {
	tok, err := dec.Token()
	if err != nil {
		return describeJSONError(err)
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	if depth+1 > maxDepth {
		return fmt.Errorf("%s: JSON nested more than %d levels deep", path, maxDepth)
	}
	if d == '{' {
		return walkObject(dec, path, depth+1)
	}
	for i := 0; dec.More(); i++ {
		if err := walkValue(dec, fmt.Sprintf("%s[%d]", path, i), depth+1); err != nil {
			return err
		}
	}
	_, err = dec.Token() // ']'
	return describeJSONErrorOrNil(err)
}

func describeJSONErrorOrNil(err error) error {
	if err == nil {
		return nil
	}
	return describeJSONError(err)
}

func orRoot(path string) string {
	if path == "" {
		return "top level"
	}
	return path
}
