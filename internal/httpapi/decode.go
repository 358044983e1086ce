package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
)

// decodeJSON reads r's body strictly into v: the content type must be
// JSON (415), the body one JSON value of the right shape (400
// invalid_json, with the field at fault where known) with no field that v
// lacks (400 unknown_field) and nothing after it.
func decodeJSON(r *http.Request, v any) error {
	if mt := mediaType(r); mt != "application/json" {
		return &Error{Status: http.StatusUnsupportedMediaType, Code: CodeUnsupportedType,
			Message: fmt.Sprintf("Content-Type %q: send application/json", mt)}
	}
	return decodeJSONBody(r.Body, v)
}

// decodeJSONBody is decodeJSON without the content type check.
func decodeJSONBody(body io.Reader, v any) error {
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		if err != nil && asError(err) != nil {
			return asError(err)
		}
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalidJSON, Message: "data after the JSON value"}
	}
	return nil
}

// jsonError turns a decoding error into the API error naming the field.
func jsonError(err error) error {
	if e := asError(err); e != nil {
		return e // body too large
	}
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalidJSON, Message: "empty body: send a JSON object"}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalidJSON, Message: "JSON ends early"}
	case errors.As(err, &syn):
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalidJSON, Message: fmt.Sprintf("JSON syntax error at byte %d: %v", syn.Offset, syn)}
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return &Error{Status: http.StatusBadRequest, Code: CodeInvalidJSON, Message: "the body must be a JSON " + typ.Type.Kind().String()}
		}
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalidJSON, Field: field,
			Message: fmt.Sprintf("%s: a JSON %s where %s was expected", field, typ.Value, jsonKind(typ.Type.Kind().String()))}
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name = strings.Trim(name, `"`)
		return &Error{Status: http.StatusBadRequest, Code: CodeUnknownField, Field: name, Message: fmt.Sprintf("unknown field %q", name)}
	}
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalidJSON, Message: err.Error()}
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "slice", "array":
		return "an array"
	case "struct", "map":
		return "an object"
	case "bool":
		return "a boolean"
	}
	return "a number"
}

// mediaType is the request's Content-Type without parameters, in lower
// case; "" when absent or malformed.
func mediaType(r *http.Request) string {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return ""
	}
	return mt
}
