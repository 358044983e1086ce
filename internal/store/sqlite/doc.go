// Package sqlite is posthorn's embedded storage backend: one SQLite file
// holds the directory, the mailboxes, the message bodies and the
// CONDSTORE/QRESYNC change log. It uses modernc.org/sqlite, a pure Go
// SQLite, so the binary builds with CGO_ENABLED=0.
//
// The POP3 maildrop locks (store.MaildropLocks) are kept in memory, not
// in the file: one process serves an embedded store (maildrop.go).
//
// # On-disk layout
//
// One database file plus SQLite's -wal and -shm files beside it. The file
// is in WAL mode with synchronous=FULL (a commit is fsync'd before it is
// reported), foreign keys on, and a 10 s busy timeout so a CLI process can
// write beside a running server. Tables (see migrate.go for the exact
// schema, applied as ordered, versioned migrations recorded in
// schema_version):
//
//	meta           key/value counters; "uidvalidity" is the store-wide
//	               UIDVALIDITY counter (starts at the creation time, never
//	               repeats, never runs behind the clock)
//	domains        mail domains served here
//	accounts       address (unique), domain, argon2id hash, SCRAM keys,
//	               may_send_as_domain (submission sender rights),
//	               quota_bytes (RFC 9208 STORAGE; 0 = unlimited)
//	aliases        address or "@domain" (catch-all), domain
//	alias_targets  ordered account addresses of an alias (not foreign keys)
//	mailboxes      account, name (unique per account), special use,
//	               UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ, subscribed, and
//	               counters kept by triggers on messages: size (bytes;
//	               quota usage is the sum over the account's mailboxes),
//	               messages, unseen, deleted (MailboxStatus reads one row:
//	               18 µs instead of 150 ms for 100,000 messages)
//	messages       id (AUTOINCREMENT: never reused), mailbox, UID (unique
//	               per mailbox), MODSEQ, system flags as bits, keywords,
//	               internal date (µs), size, body blob
//	blobs          message bodies and their IMAP structure
//	               (message.Marshal, computed before the write); one row
//	               shared by every message made from one delivery or copy,
//	               deleted by a trigger when its last message goes
//	changes        per mailbox and UID, the latest flag change or the
//	               expunge with its MODSEQ
//	app_passwords  per account and name, an argon2id hash (revocable
//	               extra passwords; removed with the account)
//	queue          the outbound queue: sender, submitting account (no
//	               reference: mail outlives its account), size, times,
//	               attempts, held, lease token, last error, delay-warned
//	               flag and the body; a claimed message's next_attempt is
//	               its lease's end (index on held, next_attempt)
//	queue_recipients  ordered recipients of a queued message with their
//	               state (pending, delivered, failed) and last reply
//	               (queue also keeps tracking_id, unique while queued,
//	               the sender domain and the event data of tracked mail)
//	events         the append-only event log: seq (the cursor), id
//	               ("ev_…", unique), time, type, domain, message tracking
//	               id, recipient, reply, next attempt, JSON data; indexes
//	               by (domain, seq), (domain, time), (domain, message) and
//	               time (pruning). A message's status is folded from its
//	               events on read (no status table to keep in step)
//	suppressions   per (domain, address): reason, time, source event
//	webhook_endpoints  per domain: URL, secret, type filter, enabled, and
//	               for inbound routes an address pattern and keep flag
//	webhook_deliveries  the outbox: one row per (event, endpoint), written
//	               with the event; state, attempts, lease, next attempt
//	               (a lease's end while claimed, as in queue)
//
// # Bodies in the database
//
// Bodies are BLOBs in the same file, not one file per message as in mox or
// maddy. With bodies inside, a delivery is one transaction and one fsync,
// atomic with its index rows, and there is no orphan-file cleanup. Measured
// on the reference machine (LIBRARIES.md, 10 KiB message + 3 index rows):
// modernc.org/sqlite stores ~4,900 messages/s with one durable commit per
// message and ~8,700/s with 32 per commit, while one file per body plus
// SQLite metadata manages ~1,500/s and ~3,200/s (three fsyncs per
// message). The price is a larger database file (backups copy it whole,
// or use SQLite's online backup) and bodies read whole into memory; a
// message store of many gigabytes with large attachments would favour
// files or segment files. The PostgreSQL backend makes its own choice.
//
// # Group commit
//
// All writes run on one goroutine that owns the only write connection
// (see writer.go): concurrent requests are batched into one transaction,
// each in its own SAVEPOINT, and committed with one fsync. Reads use a
// separate pool of connections, which WAL lets run beside the writer.
// Another process (the CLI) has its own writer; SQLite's lock and the busy
// timeout serialise the two.
//
// BenchmarkDeliver (10 KB bodies, durable on return; 2-core VM whose
// fsync took 0.5–2 ms, other jobs sharing the machine) measured 7,400 to
// 9,400 messages/s with 50 concurrent callers, about 25 requests per
// commit, and 1,200 to 2,300/s with a single caller (one commit each).
// Under heavy load from other processes the 50-caller figure fell to
// 1,600–4,000/s. Without fsync (tmpfs) the writer's CPU limit is about
// 17,000/s. The disk, not the CPU, is the limit: every body is written
// twice, to the WAL and, at checkpoint, to the database file. Keeping the
// savepoint sub-journals in memory (temp_store=MEMORY) cut writer CPU by a
// quarter. 8 KiB pages beat 16 KiB ones and tied with 4 KiB; checkpoint
// intervals of 300 to 4,000 pages, and checkpointing from a background
// connection, made no difference that stood out of the noise, so SQLite's
// automatic checkpoint stays.
//
// # Reads for IMAP
//
// MessagesFrom and ForEachBody read below database/sql (eachRow in
// read.go): on a 100,000-message mailbox database/sql's per-value
// conversions (a uint32 destination goes through strconv) and locks cost
// as much as SQLite itself. The listing is packed into five columns, led
// by a count row so the result is allocated once, and flag slices are
// shared between messages with equal flags. BenchmarkMessages100k: about
// 230 ms of CPU per listing through database/sql, about 110 ms now, most
// of it in the driver's per-column calls (each takes the connection's
// mutex); wall time on the loaded 2-core test machine was 300–500 ms.
// BenchmarkForEachBody100k (2 KB bodies): about 320 ms of CPU per walk.
// UpdateFlags writes the messages it changes in groups of equal
// resulting flags, two statements a group (the rows, and their change-log
// entries), instead of two statements a message: a STORE 1:* +FLAGS
// (\Seen) on 100,000 messages (BenchmarkUpdateFlags100k) costs about
// 0.9 s of writer CPU, mostly SQLite updating the rows, the STATUS
// counters and the change log's two B-trees; meanwhile other writes wait.
// MessageBody hands over the driver's copy of the BLOB (one copy,
// BenchmarkMessageBodyCopies: 107 KB allocated per 100 KB body, 214 KB
// before).
//
// # Message structure at delivery
//
// Deliver and Append compute the IMAP structure (message.Parse, then
// message.Marshal) in the caller's goroutine before queueing the write,
// so the single writer goroutine, the bottleneck of group commit, does
// not pay for it. BenchmarkStructure10KB: 9–70 µs per 10 KB multipart
// message depending on the machine's load (about 9 µs, 1.1 GB/s, when
// idle; 4.7 KB and 62 allocations), small beside the ~60 µs of writer CPU
// and the fsync per commit a delivery costs, and paid once instead of at
// every FETCH of ENVELOPE or BODYSTRUCTURE. It stays at delivery.
package sqlite
