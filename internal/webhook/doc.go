// Package webhook delivers the event log to applications: a Worker claims
// due rows of the store's webhook outbox (store.Events) under a lease, POSTs
// each event as JSON to its endpoint with an HMAC-SHA256 signature, and
// records the outcome. Only a 2xx answer within Timeout counts; anything
// else is retried with exponential backoff (RetryMin doubling to RetryMax)
// until GiveUp after the event (24 hours), then recorded as failed.
//
// Delivery is at-least-once: the outbox row is written in the same
// transaction as its event, survives restarts, and a worker that dies
// mid-POST leaves its lease to expire, so the event is sent again.
// Receivers deduplicate by the event id.
//
// # Request
//
//	POST <endpoint URL>
//	Content-Type: application/json
//	Posthorn-Event-Id: ev_…            the event id (also "id" in the body)
//	Posthorn-Timestamp: 1767225600     Unix seconds when this attempt was signed
//	Posthorn-Signature: v1=<hex>       hex(HMAC-SHA256(secret, timestamp + "." + body))
//
//	{"id":"ev_…","time":"…","type":"delivered","domain":"example.org",
//	 "message":"m_…","recipient":"bob@example.net","reply":"250 2.0.0 ok",
//	 "data":{…}}
//
// The secret is the endpoint's whole secret string ("whsec_…") as bytes.
// Receivers recompute the HMAC over the raw body, compare in constant
// time, and reject timestamps far from their clock (Verify does all
// three); signing the timestamp stops replays of old requests.
//
// # SSRF
//
// Any http or https URL is accepted, loopback and private addresses
// included (development needs http://127.0.0.1). Whoever can add an
// endpoint can therefore make the server POST to internal services; only
// give that right (CLI access, the domain's API keys) to people trusted
// with the server's network position. Redirects are not followed.
package webhook
