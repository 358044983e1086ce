package postgres

import "strings"

// deliverSchema is migration 3: posthorn_deliver, one delivery (one body
// to one or more mailboxes) done inside the server, so that group commit
// (deliver.go) sends a whole batch of deliveries in one round trip and
// one implicit transaction. It does what Deliver's statements do
// (message.go): the quota check with the accounts locked in id order,
// each target's mailbox or its account's INBOX, UIDs, a MODSEQ and the
// STATUS counters from one UPDATE per mailbox in id order, one body row,
// the message rows, and pg_notify for each mailbox. It returns one row per
// target (r_target counting from 1), or one row with r_err 'quota' or
// 'notfound' for a delivery refused before it wrote anything, so the
// batch goes on; any other error fails the batch. Bits: \Deleted 4, \Seen 8.
const deliverSchema = `
-- Bodies: compressed with lz4 when that pays (PostgreSQL's default
-- storage, measured faster at ingest than migration 1's EXTERNAL, which
-- moved every body above 2 KB out of line uncompressed).
ALTER TABLE blobs ALTER COLUMN data SET STORAGE EXTENDED, ALTER COLUMN data SET COMPRESSION lz4;
CREATE FUNCTION posthorn_deliver(accounts bigint[], names text[], sysflags integer[], keywords text[],
	body bytea, structure bytea, date bigint)
RETURNS TABLE (r_err text, r_target bigint, r_mailbox bigint, r_uid bigint, r_id bigint, r_modseq bigint)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
	n      integer := cardinality(accounts);
	sz     bigint := length(body);
	boxes  bigint[] := array_fill(0::bigint, ARRAY[n]);
	uids   bigint[] := array_fill(0::bigint, ARRAY[n]);
	mseqs  bigint[] := array_fill(0::bigint, ARRAY[n]);
	a      record;
	g      record;
	usage  bigint;
	mb     bigint;
	first  bigint;
	ms     bigint;
	blob   bigint;
	i      integer;
BEGIN
	-- The checks come before any write, so a refused delivery returns
	-- having changed nothing (no subtransaction: measured 4x slower).
	BEGIN
		FOR a IN SELECT t.account, t.cnt, acc.id, acc.quota_bytes
			FROM (SELECT x AS account, count(*) AS cnt FROM unnest(accounts) x GROUP BY x) t
			LEFT JOIN accounts acc ON acc.id = t.account ORDER BY t.account
		LOOP
			IF a.id IS NULL THEN
				RETURN QUERY SELECT 'notfound'::text, 0::bigint, 0::bigint, 0::bigint, 0::bigint, 0::bigint;
				RETURN;
			END IF;
			IF a.quota_bytes > 0 THEN
				PERFORM 1 FROM accounts WHERE id = a.id FOR NO KEY UPDATE;
				SELECT coalesce(sum(size), 0) INTO usage FROM mailboxes WHERE account_id = a.id;
				IF usage + sz * a.cnt > a.quota_bytes THEN
					RETURN QUERY SELECT 'quota'::text, 0::bigint, 0::bigint, 0::bigint, 0::bigint, 0::bigint;
					RETURN;
				END IF;
			END IF;
		END LOOP;
		FOR i IN 1..n LOOP
			SELECT id INTO mb FROM mailboxes WHERE account_id = accounts[i] AND name IN (names[i], 'INBOX')
				ORDER BY name = 'INBOX' LIMIT 1;
			IF mb IS NULL THEN
				RETURN QUERY SELECT 'notfound'::text, 0::bigint, 0::bigint, 0::bigint, 0::bigint, 0::bigint;
				RETURN;
			END IF;
			boxes[i] := mb;
		END LOOP;
		FOR g IN SELECT t.box, min(t.account) AS account, count(*) AS cnt,
				count(*) FILTER (WHERE t.sf & 8 = 0) AS unseen, count(*) FILTER (WHERE t.sf & 4 != 0) AS deleted
			FROM unnest(boxes, accounts, sysflags) AS t(box, account, sf) GROUP BY t.box ORDER BY t.box
		LOOP
			UPDATE mailboxes SET uidnext = uidnext + g.cnt, highestmodseq = highestmodseq + 1,
				size = size + sz * g.cnt, messages = messages + g.cnt,
				unseen = unseen + g.unseen, deleted = deleted + g.deleted
			WHERE id = g.box RETURNING uidnext - g.cnt, highestmodseq INTO first, ms;
			FOR i IN 1..n LOOP
				IF boxes[i] = g.box THEN
					uids[i] := first;
					mseqs[i] := ms;
					first := first + 1;
				END IF;
			END LOOP;
			PERFORM pg_notify('posthorn_mail', g.account || ' ' || g.box);
		END LOOP;
		INSERT INTO blobs (refs, data, structure) VALUES (n, body, structure) RETURNING id INTO blob;
		RETURN QUERY WITH ins AS (
			INSERT INTO messages (mailbox_id, uid, modseq, sysflags, keywords, internal_date, size, blob_id)
			SELECT t.box, t.uid, t.ms, t.sf, t.kw, date, sz, blob
			FROM unnest(boxes, uids, mseqs, sysflags, keywords) AS t(box, uid, ms, sf, kw)
			RETURNING mailbox_id, uid, id, modseq)
		SELECT NULL::text, t.i, ins.mailbox_id, ins.uid, ins.id, ins.modseq
		FROM ins JOIN unnest(boxes, uids) WITH ORDINALITY AS t(box, uid, i) ON ins.mailbox_id = t.box AND ins.uid = t.uid;
	END;
END
$fn$;
`

// deliverWatchedSchema is migration 10's posthorn_deliver: migration 3's,
// announcing a mailbox only if some node watches it (watch.go), looked
// for after the mailbox's UPDATE has locked its row.
var deliverWatchedSchema = func() string {
	const notify = "\t\t\tPERFORM pg_notify('posthorn_mail', g.account || ' ' || g.box);\n"
	fn := deliverSchema[strings.Index(deliverSchema, "CREATE FUNCTION"):]
	if strings.Count(fn, notify) != 1 {
		panic("postgres: migration 3's posthorn_deliver changed")
	}
	fn = strings.Replace(fn, notify, "\t\t\tIF "+sqlWatched("g.account", "g.box")+" THEN\n\t"+notify+"\t\t\tEND IF;\n", 1)
	return "CREATE OR REPLACE" + strings.TrimPrefix(fn, "CREATE")
}()
