// Package queue is the outbound delivery worker: it takes due messages
// from the store's durable queue (store.Queue) under a lease, delivers
// each destination domain's recipients through package delivery, and
// records every attempt.
//
// Per recipient: a 2xx reply is done; a 5xx fails it at once and the
// sender gets a delivery status notification (RFC 3464); a 4xx, or no
// answer, leaves it pending for the next attempt, after an exponential
// backoff from RetryMin doubling up to RetryMax. A recipient still
// pending GiveUp after the message was queued fails with 4.4.7 (delivery
// time expired). With DelayWarning set, the sender is told once when a
// message has waited that long.
//
// Notifications go to the envelope sender: into the INBOX of the local
// account(s) when the sender's domain is ours (mail we relay normally
// comes from our own users, through submission), else into the queue
// with the null reverse-path. Never for the null sender (RFC 5321 §4.5.5),
// so a notification that fails makes no other: no loops. With
// Options.Signer a notification is DKIM-signed before it is stored, for
// the reporting host's domain or its nearest parent with keys (sign.go).
//
// At-least-once: the lease (Lease) keeps a message to one worker, which
// renews it while the attempt runs (every Lease/3), so even an attempt
// longer than the lease is not claimed by another worker or node; a
// worker that dies mid-attempt stops renewing and its lease expires, and
// the message is tried again, so a message in flight at a crash may
// arrive twice, never zero times. A worker whose lease was lost anyway
// (it could not reach the database for a Lease) stops its attempt.
package queue
