package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"
)

// Error is an API error: written as {"error": {"code", "message",
// "field"}} with Status.
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
	// Field names the request field at fault (JSON path such as
	// "to[1]"), or "" when no one field is.
	Field string `json:"field,omitempty"`
	// RetryAfter, when positive, is sent as Retry-After (whole seconds,
	// rounded up).
	RetryAfter time.Duration `json:"-"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Error codes, one per kind of failure.
const (
	CodeBadRequest       = "bad_request"            // 400: malformed request
	CodeInvalidJSON      = "invalid_json"           // 400: not JSON, or of the wrong shape
	CodeUnknownField     = "unknown_field"          // 400: a JSON field this API does not know
	CodeInvalid          = "invalid"                // 400: a field fails validation
	CodeUnauthorized     = "unauthorized"           // 401: no API key, or an unknown or revoked one
	CodeForbidden        = "forbidden"              // 403: outside the key's scope
	CodeNotFound         = "not_found"              // 404
	CodeMethodNotAllowed = "method_not_allowed"     // 405
	CodeConflict         = "conflict"               // 409: e.g. the same Idempotency-Key in flight
	CodeTooLarge         = "too_large"              // 413
	CodeUnsupportedType  = "unsupported_media_type" // 415
	CodeKeyReused        = "idempotency_key_reused" // 422: the same Idempotency-Key with another request
	CodeOverQuota        = "over_quota"             // 422: a local recipient's mailbox is full
	CodeRateLimited      = "rate_limited"           // 429
	CodeInternal         = "internal"               // 500
	CodeUnavailable      = "unavailable"            // 503
)

func errBadRequest(field, msg string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeBadRequest, Message: msg, Field: field}
}

func errInvalid(field, msg string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalid, Message: msg, Field: field}
}

func errNotFound(msg string) *Error {
	return &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: msg}
}

func errForbidden(field, msg string) *Error {
	return &Error{Status: http.StatusForbidden, Code: CodeForbidden, Message: msg, Field: field}
}

func errTooLarge(limit int64) *Error {
	return &Error{Status: http.StatusRequestEntityTooLarge, Code: CodeTooLarge,
		Message: "request body larger than " + strconv.FormatInt(limit, 10) + " bytes"}
}

// writeError writes e as the response.
func writeError(w http.ResponseWriter, e *Error) {
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.FormatInt(int64((e.RetryAfter+time.Second-1)/time.Second), 10))
	}
	writeJSON(w, e.Status, struct {
		Error *Error `json:"error"`
	}{e})
}

// writeJSON writes v as a JSON response with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"code":"internal","message":"internal error"}}`)
	}
	writeRaw(w, status, b)
}

// asError maps a handler's error to the API error to answer, or nil when
// it is an internal failure.
func asError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		return errTooLarge(mb.Limit)
	}
	return nil
}
