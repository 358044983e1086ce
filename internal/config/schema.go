package config

import (
	"reflect"
	"strings"
)

var (
	durationType = reflect.TypeFor[Duration]()
	byteSizeType = reflect.TypeFor[ByteSize]()
)

// isTable reports whether t is a TOML table in the schema (a struct of ours,
// not a value type like Duration).
func isTable(t reflect.Type) bool {
	return t.Kind() == reflect.Struct && t != durationType
}

// isTableArray reports whether t is an array of tables ([[listeners]]).
func isTableArray(t reflect.Type) bool {
	return t.Kind() == reflect.Slice && isTable(t.Elem())
}

// tomlName is the key of a struct field.
func tomlName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
	return name
}

// keysOf lists the keys of the table type t, in field order.
func keysOf(t reflect.Type) []string {
	var keys []string
	for _, f := range reflect.VisibleFields(t) {
		if f.IsExported() && tomlName(f) != "" {
			keys = append(keys, tomlName(f))
		}
	}
	return keys
}

// lookupKey finds the field for a dotted key path without indexes
// ("limits.smtp.max_errors", "listeners.role"), descending into arrays of
// tables.
func lookupKey(plain string) (reflect.StructField, bool) {
	t := reflect.TypeFor[Config]()
	var found reflect.StructField
	for part := range strings.SplitSeq(plain, ".") {
		if isTableArray(t) {
			t = t.Elem()
		}
		if !isTable(t) {
			return reflect.StructField{}, false
		}
		ok := false
		for _, f := range reflect.VisibleFields(t) {
			if f.IsExported() && tomlName(f) == part {
				found, ok = f, true
				break
			}
		}
		if !ok {
			return reflect.StructField{}, false
		}
		t = found.Type
	}
	return found, plain != ""
}

// tableType returns the struct type of the table at plain ("" is the root),
// looking through arrays of tables.
func tableType(plain string) (reflect.Type, bool) {
	t := reflect.TypeFor[Config]()
	if plain != "" {
		f, ok := lookupKey(plain)
		if !ok {
			return nil, false
		}
		t = f.Type
	}
	if isTableArray(t) {
		t = t.Elem()
	}
	return t, isTable(t)
}

// typeName describes t for operators.
func typeName(t reflect.Type) string {
	switch {
	case t == durationType:
		return "duration"
	case t == byteSizeType:
		return "size"
	case isTableArray(t):
		return "array of tables"
	case isTable(t):
		return "table"
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Slice:
		return "array of " + typeName(t.Elem()) + "s"
	}
	return t.String()
}

// typeHint tells how to write a value of type t.
func typeHint(t reflect.Type) string {
	switch {
	case t == durationType:
		return `write a duration as a string such as "30s", "5m" or "1h30m"`
	case t == byteSizeType:
		return `write a size as an integer number of bytes or a string such as "50MiB" or "10MB"`
	}
	switch t.Kind() {
	case reflect.String:
		return `write a string in quotes, e.g. "text"`
	case reflect.Bool:
		return "write true or false"
	case reflect.Int, reflect.Int64:
		return "write an integer without quotes, e.g. 100"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.String {
			return `write an array of strings, e.g. ["a", "b"]`
		}
	}
	return ""
}
