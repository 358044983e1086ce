package config

import (
	"reflect"
	"strings"
)

// Sample returns a complete configuration file with every key at its
// default and its documentation as comments. hostname and domains get
// example values. Sample loads without error, and `posthorn config sample`
// prints it.
func Sample() string {
	docs, err := parseFieldDocs()
	if err != nil {
		// config.go is compiled into this binary, so it parses; the tests
		// check this.
		panic(err)
	}
	secs, _ := sections(docs)
	var b strings.Builder
	b.WriteString(sampleIntro)
	for _, s := range secs {
		b.WriteString("\n")
		if s.doc != "" {
			b.WriteString(comment(s.doc))
		}
		if s.array {
			b.WriteString(arrayTOML(s, true))
			continue
		}
		if s.path != "" {
			b.WriteString(s.header() + "\n")
		}
		writeKeys(&b, s.keys, nil, true)
	}
	return b.String()
}

const sampleIntro = `# posthorn configuration. Every key below is at its default except
# hostname and domains; delete the keys you do not change.
# Reference: docs/config.md.
`

// arrayTOML writes the default elements of an array of tables.
func arrayTOML(s section, withDocs bool) string {
	var b strings.Builder
	for i, e := range s.elems {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString(s.header() + "\n")
		writeKeys(&b, s.keys, &e, withDocs)
	}
	return b.String()
}

// writeKeys writes one "key = value" line per key, preceded by its doc as
// a comment when withDocs. Values come from elem when given, else from the
// sample values.
func writeKeys(b *strings.Builder, keys []keyDoc, elem *reflect.Value, withDocs bool) {
	for i, k := range keys {
		if withDocs {
			if i > 0 {
				b.WriteString("\n")
			}
			b.WriteString(comment(k.doc))
		}
		v := k.sample
		if elem != nil {
			v = tomlValue(elem.FieldByIndex(fieldIndex(elem.Type(), k.name)))
		}
		b.WriteString(k.name + " = " + v + "\n")
	}
}

func fieldIndex(t reflect.Type, name string) []int {
	for _, f := range reflect.VisibleFields(t) {
		if tomlName(f) == name {
			return f.Index
		}
	}
	return nil
}

// comment turns text into TOML comment lines.
func comment(text string) string {
	var b strings.Builder
	for line := range strings.SplitSeq(strings.TrimSpace(text), "\n") {
		if line == "" {
			b.WriteString("#\n")
			continue
		}
		b.WriteString("# " + line + "\n")
	}
	return b.String()
}
