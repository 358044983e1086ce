package config

import (
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2/unstable"
)

// positions records where each key of one TOML document is written, so that
// errors found after decoding (in Validate) can name a line. Paths carry
// array indexes from 0: "listeners[1].address".
type positions struct {
	byPath map[string]keyPos
	all    []keyPos
	broken bool // a syntax error stopped the indexing
}

// keyPos is the position of the first part of a key.
type keyPos struct {
	path  string // with indexes: "listeners[1].address"
	plain string // without: "listeners.address"
	line  int
	col   int
	kind  unstable.Kind // of the value; Table or ArrayTable for a header, Invalid for an implicit table
}

// indexPositions parses doc once and records every table header, key and
// array element. It stops quietly at a syntax error: the decoder reports
// those.
func indexPositions(doc []byte) *positions {
	x := &indexer{
		pos:    &positions{byPath: map[string]keyPos{}},
		arrays: map[string]int{},
	}
	x.p.Reset(doc)
	for x.p.NextExpression() {
		x.expression(x.p.Expression())
	}
	x.pos.broken = x.p.Error() != nil
	return x.pos
}

type indexer struct {
	p      unstable.Parser
	pos    *positions
	arrays map[string]int // array-table path (with indexes) → elements so far
	table  string         // current table path, with indexes
	plain  string         // current table path, without indexes
}

func (x *indexer) expression(n *unstable.Node) {
	switch n.Kind {
	case unstable.Table, unstable.ArrayTable:
		parts, first := x.key(n)
		path, plain := "", ""
		for i, part := range parts {
			path, plain = join(path, part), join(plain, part)
			last, kind := i == len(parts)-1, unstable.Invalid
			switch {
			case last && n.Kind == unstable.ArrayTable:
				k := x.arrays[path]
				x.arrays[path] = k + 1
				x.record(path, plain, first, unstable.ArrayTable)
				path += "[" + strconv.Itoa(k) + "]"
			case last:
				kind = unstable.Table
			case x.arrays[path] > 0:
				path += "[" + strconv.Itoa(x.arrays[path]-1) + "]"
			}
			x.record(path, plain, first, kind)
		}
		x.table, x.plain = path, plain
	case unstable.KeyValue:
		x.keyValue(x.table, x.plain, n)
	}
}

// keyValue records the key of n, under the table path/plain, and what its
// value contains.
func (x *indexer) keyValue(path, plain string, n *unstable.Node) {
	parts, first := x.key(n)
	v := n.Value()
	for i, part := range parts {
		path, plain = join(path, part), join(plain, part)
		kind := unstable.InlineTable // the implicit table of a dotted key
		if i == len(parts)-1 {
			kind = v.Kind
		}
		x.record(path, plain, first, kind)
	}
	x.value(path, plain, v, first)
}

// value records the elements of arrays and the keys of inline tables.
func (x *indexer) value(path, plain string, v *unstable.Node, at unstable.Position) {
	switch v.Kind {
	case unstable.Array:
		it := v.Children()
		for i := 0; it.Next(); i++ {
			elem := it.Node()
			elemAt := at
			if elem.Raw.Length > 0 {
				elemAt = x.p.Shape(elem.Raw).Start
			}
			elemPath := path + "[" + strconv.Itoa(i) + "]"
			x.record(elemPath, plain, elemAt, elem.Kind)
			x.value(elemPath, plain, elem, elemAt)
		}
	case unstable.InlineTable:
		it := v.Children()
		for it.Next() {
			if kv := it.Node(); kv.Kind == unstable.KeyValue {
				x.keyValue(path, plain, kv)
			}
		}
	}
}

// key returns the parts of the key of a table header or key-value, and the
// position of the first part.
func (x *indexer) key(n *unstable.Node) ([]string, unstable.Position) {
	var parts []string
	var first unstable.Position
	it := n.Key()
	for it.Next() {
		k := it.Node()
		if parts == nil {
			first = x.p.Shape(k.Raw).Start
		}
		parts = append(parts, string(k.Data))
	}
	return parts, first
}

// record keeps the first position seen for path.
func (x *indexer) record(path, plain string, at unstable.Position, kind unstable.Kind) {
	if _, ok := x.pos.byPath[path]; ok {
		return
	}
	kp := keyPos{path: path, plain: plain, line: at.Line, col: at.Column, kind: kind}
	x.pos.byPath[path] = kp
	x.pos.all = append(x.pos.all, kp)
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "." + b
}

// line returns the line of path, or of its nearest ancestor written in the
// document (the [[listeners]] header for a key left out of it), or 0.
func (p *positions) line(path string) int {
	for path != "" {
		if kp, ok := p.byPath[path]; ok {
			return kp.line
		}
		path = parentPath(path)
	}
	return 0
}

// parentPath strips the last ".key" or "[i]" from path.
func parentPath(path string) string {
	if strings.HasSuffix(path, "]") {
		if i := strings.LastIndexByte(path, '['); i >= 0 {
			return path[:i]
		}
	}
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		return path[:i]
	}
	return ""
}

// at returns the key written at line and column. Several keys start there
// when it is dotted ("[limits.imap]" holds limits and limits.imap); key,
// the dotted key as go-toml reports it, picks the one meant. Inside inline
// tables go-toml reports only the inner part, so a suffix match counts.
func (p *positions) at(line, col int, key string) (keyPos, bool) {
	for _, kp := range p.all {
		if kp.line == line && kp.col == col && (kp.plain == key || strings.HasSuffix(kp.plain, "."+key)) {
			return kp, true
		}
	}
	return keyPos{}, false
}

// nearest returns the path (with indexes) of the key that key (without
// indexes, as go-toml reports it) most likely is, given that an error was
// found on line: the last occurrence at or before that line. Inside inline
// tables go-toml reports only the inner key, so a suffix match is accepted
// when nothing matches exactly.
func (p *positions) nearest(key string, line int) (string, bool) {
	for _, suffix := range []bool{false, true} {
		best, found := keyPos{}, false
		for _, kp := range p.all {
			ok := kp.plain == key
			if suffix {
				ok = strings.HasSuffix(kp.plain, "."+key)
			}
			if ok && kp.line <= line && (!found || kp.line >= best.line) {
				best, found = kp, true
			}
		}
		if found {
			return best.path, true
		}
	}
	return "", false
}
