package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strings"

	toml "github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
)

// Load reads the TOML file at path, decodes it strictly onto Default and
// validates the result. On failure the error is an ErrorList (or an
// *os.PathError when the file cannot be read) and names the file, line and
// key of every problem found.
func Load(path string) (*Config, error) {
	doc, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, doc)
}

// Parse is Load for a document already in memory; name is used in errors.
func Parse(name string, doc []byte) (*Config, error) {
	c := Default()
	pos := indexPositions(doc)
	if errs := typeErrors(pos); len(errs) > 0 && !pos.broken {
		return nil, errs.withFile(name)
	}
	dec := toml.NewDecoder(bytes.NewReader(doc)).DisallowUnknownFields()
	errs, complete := decodeErrors(dec.Decode(c), pos)
	if !complete {
		// Decoding stopped at the first error; the rest of c is not the file.
		return nil, errs.withFile(name)
	}
	// Unknown keys are reported after a complete decode: validate the rest.
	if err := c.Validate(); err != nil {
		var verrs ErrorList
		if !errors.As(err, &verrs) {
			return nil, err
		}
		for _, e := range verrs {
			e.Line = pos.line(e.Key)
			errs = append(errs, e)
		}
	}
	if len(errs) > 0 {
		errs.sortByLine()
		return nil, errs.withFile(name)
	}
	return c, nil
}

// withFile sets File on every error.
func (l ErrorList) withFile(name string) ErrorList {
	for _, e := range l {
		e.File = name
	}
	return l
}

// decodeErrors turns go-toml's errors into ours, with paths that carry
// array indexes. complete reports whether the whole document was decoded
// (no error, or only unknown keys).
func decodeErrors(err error, pos *positions) (errs ErrorList, complete bool) {
	if err == nil {
		return nil, true
	}
	var strict *toml.StrictMissingError
	if errors.As(err, &strict) {
		for i := range strict.Errors {
			errs = append(errs, unknownKeyError(&strict.Errors[i], pos))
		}
		return errs, true
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		return ErrorList{decodeError(de, pos)}, false
	}
	return ErrorList{{Msg: err.Error()}}, false
}

func unknownKeyError(de *toml.DecodeError, pos *positions) *Error {
	line, col := de.Position()
	path, plain := strings.Join(de.Key(), "."), strings.Join(de.Key(), ".")
	if kp, ok := pos.at(line, col, plain); ok {
		path, plain = kp.path, kp.plain
	}
	return &Error{Line: line, Msg: fmt.Sprintf("unknown key %q", path), Hint: unknownKeyHint(plain)}
}

// mismatch matches go-toml's type error, e.g. "cannot decode TOML string
// into struct field config.SMTPLimits.MaxErrors of type int".
var mismatch = regexp.MustCompile(`^cannot decode TOML (\S+) into`)

func decodeError(de *toml.DecodeError, pos *positions) *Error {
	line, _ := de.Position()
	msg := strings.TrimPrefix(de.Error(), "toml: ")
	plain := strings.Join(de.Key(), ".")
	if plain == "" {
		return &Error{Line: line, Msg: msg, Hint: "see https://toml.io for the syntax"}
	}
	path := plain
	if p, ok := pos.nearest(plain, line); ok {
		path = p
		plain = stripIndexes(p)
	}
	e := &Error{Line: line, Key: path, Msg: msg}
	f, ok := lookupKey(plain)
	switch {
	case strings.Contains(msg, "already defined"):
		e.Hint = "write each key once per table"
	case !ok:
	case mismatch.MatchString(msg):
		e.Msg = fmt.Sprintf("expected %s, got %s", typeName(f.Type), mismatch.FindStringSubmatch(msg)[1])
		e.Hint = typeHint(f.Type)
	case f.Type == durationType || f.Type == byteSizeType:
		e.Hint = typeHint(f.Type)
	}
	return e
}

var indexes = regexp.MustCompile(`\[\d+\]`)

func stripIndexes(path string) string { return indexes.ReplaceAllString(path, "") }

// typeErrors checks the kind of every value in the document against the
// schema before decoding. go-toml stops at the first type error, and gives
// no position when a duration is written as an integer; this reports them
// all, with lines. Unknown keys are left to the decoder.
func typeErrors(pos *positions) ErrorList {
	var errs ErrorList
	for _, kp := range pos.all {
		if kp.kind == unstable.Invalid { // an implicit table, or an array table element
			continue
		}
		f, ok := lookupKey(kp.plain)
		if !ok {
			continue
		}
		t := f.Type
		for p := kp.path; strings.HasSuffix(p, "]") && t.Kind() == reflect.Slice; p = parentPath(p) {
			t = t.Elem() // an array element
		}
		if !accepts(t, kp.kind) {
			hint := typeHint(t)
			switch {
			case isTableArray(t):
				hint = "write each element as a [[" + kp.plain + "]] table"
			case isTable(t):
				hint = "write a [" + kp.plain + "] table"
			}
			errs = append(errs, &Error{Line: kp.line, Key: kp.path,
				Msg:  fmt.Sprintf("expected %s, got %s", typeName(t), kindName(kp.kind)),
				Hint: hint})
		}
	}
	return errs
}

// accepts reports whether a TOML value of kind k can be decoded into t.
func accepts(t reflect.Type, k unstable.Kind) bool {
	switch {
	case t == durationType:
		return k == unstable.String
	case t == byteSizeType:
		return k == unstable.String || k == unstable.Integer
	case isTableArray(t):
		return k == unstable.Array || k == unstable.ArrayTable
	case isTable(t):
		return k == unstable.InlineTable || k == unstable.Table
	}
	switch t.Kind() {
	case reflect.String:
		return k == unstable.String
	case reflect.Bool:
		return k == unstable.Bool
	case reflect.Int, reflect.Int64:
		return k == unstable.Integer
	case reflect.Slice:
		return k == unstable.Array
	}
	return true // not in the schema: let the decoder judge
}

func kindName(k unstable.Kind) string {
	switch k {
	case unstable.String:
		return "string"
	case unstable.Integer:
		return "integer"
	case unstable.Float:
		return "float"
	case unstable.Bool:
		return "boolean"
	case unstable.Array:
		return "array"
	case unstable.InlineTable, unstable.Table:
		return "table"
	case unstable.ArrayTable:
		return "array of tables"
	case unstable.DateTime, unstable.LocalDateTime, unstable.LocalDate, unstable.LocalTime:
		return "date/time"
	}
	return k.String()
}
