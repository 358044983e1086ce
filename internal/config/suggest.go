package config

import (
	"fmt"
	"reflect"
	"strings"
)

// unknownKeyHint suggests what an unknown key (plain path, no indexes)
// should have been: a close spelling in the same table, or the same key in
// the table it belongs to.
func unknownKeyHint(plain string) string {
	parent, leaf := "", plain
	if i := strings.LastIndexByte(plain, '.'); i >= 0 {
		parent, leaf = plain[:i], plain[i+1:]
	}
	t, ok := tableType(parent)
	if !ok {
		// The parent is unknown too; go-toml reports the outermost one.
		return ""
	}
	keys := keysOf(t)
	if home := homeOf(leaf); home != "" && home != plain {
		i := strings.LastIndexByte(home, '.')
		if i < 0 {
			return fmt.Sprintf("%q is a top-level key: move it above the first [table] header", leaf)
		}
		return fmt.Sprintf("%q belongs in %s", leaf, header(home[:i]))
	}
	if best := closest(leaf, keys); best != "" {
		return fmt.Sprintf("did you mean %q?", best)
	}
	if parent == "" {
		return "valid top-level keys: " + strings.Join(keys, ", ")
	}
	return fmt.Sprintf("valid keys in %s: %s", header(parent), strings.Join(keys, ", "))
}

// header writes the table header for plain: "[tls]" or "[[listeners]]".
func header(plain string) string {
	if f, ok := lookupKey(plain); ok && isTableArray(f.Type) {
		return "[[" + plain + "]]"
	}
	return "[" + plain + "]"
}

// homeOf returns the full path of the only key in the schema named leaf.
func homeOf(leaf string) string {
	var found []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for _, f := range reflect.VisibleFields(t) {
			name := tomlName(f)
			if !f.IsExported() || name == "" {
				continue
			}
			path := join(prefix, name)
			if name == leaf {
				found = append(found, path)
			}
			ft := f.Type
			if isTableArray(ft) {
				ft = ft.Elem()
			}
			if isTable(ft) {
				walk(ft, path)
			}
		}
	}
	walk(reflect.TypeFor[Config](), "")
	if len(found) != 1 {
		return ""
	}
	return found[0]
}

// closest returns the candidate nearest to s by edit distance, if it is
// close enough to be a typo: one edit per three letters, at least one.
func closest(s string, candidates []string) string {
	best, bestDist := "", -1
	for _, c := range candidates {
		d := editDistance(strings.ToLower(s), c)
		if bestDist < 0 || d < bestDist {
			best, bestDist = c, d
		}
	}
	if bestDist < 0 || bestDist > max(1, len(s)/3) {
		return ""
	}
	return best
}

// editDistance counts the insertions, deletions, substitutions and swaps
// of adjacent bytes that turn a into b (optimal string alignment distance).
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
