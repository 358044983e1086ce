// Package httpapi is posthorn's HTTP API for applications (listener role
// "http"): sending mail (POST /api/v1/messages), its status, events,
// suppressions and webhook endpoints, JSON everywhere, described by the
// OpenAPI document served at /api/v1/openapi.json.
//
// # Requests and errors
//
// Every route is listed once in routes.go (method, path, handler, whether a
// key is needed); the OpenAPI document must list the same (a test checks).
// Handlers live in their own files and return an error: an *Error is
// written as {"error": {"code", "message", "field"}} with its HTTP status
// (400 bad JSON or a failed validation, 401 no or bad key, 403 out of the
// key's scope, 404, 405 with Allow, 409, 413, 415, 422, 429 with
// Retry-After); anything else is logged and answered 500 without details.
// JSON bodies are decoded strictly: an unknown field is a 400 naming it.
// A body larger than Options.MaxRequestBytes is refused with 413 before it
// is read when Content-Length says so, and at the limit otherwise.
//
// # API keys
//
// A key is "ph_" and 52 base32 characters: 256 random bits. It is shown
// once by `posthorn apikey create` and stored as its SHA-256 hash with its
// first 11 characters as a public prefix to find the row. SHA-256, not
// argon2id as for passwords: a password is a guessable low-entropy secret
// and needs a slow hash against offline guessing, but nobody can guess 256
// random bits, so a fast hash is as safe and costs microseconds per
// request, where argon2id would cost some 20 ms of CPU and 64 MiB for
// every request. The hash is compared in constant time. The key row is read
// on every request (no cache), so `posthorn apikey revoke` takes effect at
// the next request, even from another process. A key is scoped to one
// domain, or to one sending address of it: it sends only from there and
// sees only that domain's messages, events, suppressions and webhooks; an
// address key only the messages sent as its address (store.Event.Submitter:
// the canonical envelope sender, by API or SMTP) and the inbound events to
// it, and 404 for any other message id.
// Each key has a token bucket (Options.RateLimit, RateBurst): beyond it,
// 429 with Retry-After.
//
// Paths outside /api/ go to Options.Ops (metrics, health), unauthenticated.
package httpapi
