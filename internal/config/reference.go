package config

//go:generate go run ./internal/gendoc -o ../../docs/config.md

import (
	"bytes"
	"fmt"
	"strings"
)

// Reference returns docs/config.md: every key with its type, default and
// description, taken from the doc comments in config.go, followed by the
// sample file. It fails when a field has no doc comment.
func Reference() ([]byte, error) {
	docs, err := parseFieldDocs()
	if err != nil {
		return nil, err
	}
	secs, missing := sections(docs)
	if len(missing) > 0 {
		return nil, fmt.Errorf("config.go: fields without a doc comment: %s", strings.Join(missing, ", "))
	}
	var b bytes.Buffer
	b.WriteString(referenceIntro)
	for _, s := range secs {
		if s.path == "" {
			b.WriteString("\n## Top level\n")
		} else {
			fmt.Fprintf(&b, "\n## `%s`\n", s.header())
		}
		if s.doc != "" {
			b.WriteString("\n" + s.doc + "\n")
		}
		if s.array {
			fmt.Fprintf(&b, "\nDefault:\n\n```toml\n%s```\n", arrayTOML(s, false))
		}
		for _, k := range s.keys {
			fmt.Fprintf(&b, "\n### `%s`\n\n%s, default: %s\n\n%s\n", k.path, k.typ, referenceDefault(k.def), k.doc)
		}
	}
	b.WriteString("\n## Sample\n\nThe output of `posthorn config sample`: every key with its default.\n\n```toml\n")
	b.WriteString(Sample())
	b.WriteString("```\n")
	return b.Bytes(), nil
}

// referenceDefault shows TOML values as code and prose as it is.
func referenceDefault(def string) string {
	if def == "" || strings.ContainsAny(def[:1], `"[0123456789`) || def == "true" || def == "false" {
		return "`" + def + "`"
	}
	return def
}

const referenceIntro = `# Configuration reference

<!-- Generated from internal/config/config.go by "go generate ./internal/config". DO NOT EDIT. -->

posthorn reads one [TOML](https://toml.io) file. Every key is optional and
takes the default shown here when left out. Keys the program does not know
are errors, so a typo never goes unnoticed.

- A **duration** is a string such as ` + "`\"30s\"`, `\"5m\"` or `\"1h30m\"`" + `.
- A **size** is an integer number of bytes or a string with a unit:
  ` + "`\"50MiB\"`, `\"10MB\"`, `\"512KiB\"`" + `. KiB, MiB, GiB and TiB are powers
  of 1024; KB, MB, GB and TB powers of 1000.

Errors name the file, line and key, and give a hint, one per line:

` + "```" + `
posthorn.toml:12: listeners[1].address: "127.0.0.1:99999": port out of range 1-65535 (hint: use host:port, e.g. "0.0.0.0:25" or ":25")
posthorn.toml:3: unknown key "hostnme" (hint: did you mean "hostname"?)
` + "```" + `

Array elements are counted from 0: ` + "`listeners[1]`" + ` is the second
` + "`[[listeners]]`" + ` table.
`
