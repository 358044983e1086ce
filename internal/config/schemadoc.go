package config

import (
	_ "embed"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"strings"
)

// configSource is config.go itself: its doc comments are the documentation
// of each key, for Reference and Sample.
//
//go:embed config.go
var configSource []byte

// section is one TOML table of the schema, as documented.
type section struct {
	path  string          // "" for the top level, "tls", "limits.smtp", "listeners"
	array bool            // an array of tables: [[path]]
	doc   string          // doc comment of the field holding the table
	keys  []keyDoc        // the keys that are not tables themselves
	elems []reflect.Value // for arrays: the default elements
}

// keyDoc documents one key.
type keyDoc struct {
	path   string // full dotted path, no indexes
	name   string
	typ    string
	def    string // default for the reference, as TOML or prose
	doc    string
	sample string // TOML value written in the sample file
}

// fieldDocs maps a type name in config.go to its fields' doc comments.
type fieldDocs map[string]map[string]string

func parseFieldDocs() (fieldDocs, error) {
	f, err := parser.ParseFile(token.NewFileSet(), "config.go", configSource, parser.ParseComments)
	if err != nil {
		return nil, fmt.Errorf("parsing embedded config.go: %v", err)
	}
	docs := fieldDocs{}
	ast.Inspect(f, func(n ast.Node) bool {
		ts, ok := n.(*ast.TypeSpec)
		if !ok {
			return true
		}
		st, ok := ts.Type.(*ast.StructType)
		if !ok {
			return false
		}
		m := map[string]string{}
		for _, field := range st.Fields.List {
			for _, name := range field.Names {
				m[name.Name] = strings.TrimSpace(field.Doc.Text())
			}
		}
		docs[ts.Name.Name] = m
		return false
	})
	return docs, nil
}

// sections lists the tables of the schema, top level first, each table
// before its subtables. missing collects keys without a doc comment.
func sections(docs fieldDocs) (secs []section, missing []string) {
	var walk func(path string, array bool, doc string, t reflect.Type, def reflect.Value, elems []reflect.Value)
	walk = func(path string, array bool, doc string, t reflect.Type, def reflect.Value, elems []reflect.Value) {
		sec := section{path: path, array: array, doc: doc, elems: elems}
		var subs []func()
		for _, f := range reflect.VisibleFields(t) {
			name := tomlName(f)
			if !f.IsExported() || name == "" {
				continue
			}
			full := join(path, name)
			fdoc := docs[t.Name()][f.Name]
			if fdoc == "" {
				missing = append(missing, fmt.Sprintf("%s.%s (%s)", t.Name(), f.Name, full))
			}
			fv := def.FieldByIndex(f.Index)
			switch {
			case isTable(f.Type):
				subs = append(subs, func() { walk(full, false, fdoc, f.Type, fv, nil) })
				continue
			case isTableArray(f.Type):
				var elems []reflect.Value
				for i := range fv.Len() {
					elems = append(elems, fv.Index(i))
				}
				subs = append(subs, func() { walk(full, true, fdoc, f.Type.Elem(), reflect.Zero(f.Type.Elem()), elems) })
				continue
			}
			k := keyDoc{path: full, name: name, typ: typeName(f.Type), doc: fdoc, def: tomlValue(fv), sample: tomlValue(fv)}
			if d, ok := f.Tag.Lookup("docdefault"); ok {
				k.def = d
			}
			if s, ok := f.Tag.Lookup("sample"); ok {
				k.sample = s
			}
			sec.keys = append(sec.keys, k)
		}
		if len(sec.keys) > 0 {
			secs = append(secs, sec)
		}
		for _, sub := range subs {
			sub()
		}
	}
	walk("", false, "", reflect.TypeFor[Config](), reflect.ValueOf(Default()).Elem(), nil)
	return secs, missing
}

// header is the TOML table header of s, "" for the top level.
func (s section) header() string {
	switch {
	case s.path == "":
		return ""
	case s.array:
		return "[[" + s.path + "]]"
	}
	return "[" + s.path + "]"
}

// tomlValue writes v as a TOML value.
func tomlValue(v reflect.Value) string {
	switch x := v.Interface().(type) {
	case Duration:
		return tomlString(x.String())
	case ByteSize:
		if s := x.String(); strings.HasSuffix(s, "iB") || strings.HasSuffix(s, "KB") ||
			strings.HasSuffix(s, "MB") || strings.HasSuffix(s, "GB") || strings.HasSuffix(s, "TB") {
			return tomlString(s)
		}
		return fmt.Sprint(x.Int64()) // no unit fits: plain bytes
	}
	switch v.Kind() {
	case reflect.String:
		return tomlString(v.String())
	case reflect.Slice:
		var elems []string
		for i := range v.Len() {
			elems = append(elems, tomlValue(v.Index(i)))
		}
		return "[" + strings.Join(elems, ", ") + "]"
	}
	return fmt.Sprint(v.Interface())
}

// tomlString quotes s as a TOML basic string.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteString(`\` + string(r))
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
