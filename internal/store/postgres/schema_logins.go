package postgres

// loginsSchema (migration 9) is the login throttle's failure records,
// shared by every node (logins.go, auth.FailureStore). key is auth's
// ("ip:ADDRESS", "user:NAME"); times are µs since 1970 from the node's
// clock. posthorn_login_failed counts one failure of each key in one
// round trip by auth.ThrottleOptions' rules and announces the keys on
// loginsChannel at commit, so every node drops them from its cache.
const loginsSchema = `
CREATE TABLE login_failures (
	key          text PRIMARY KEY,
	failures     integer NOT NULL,          -- within the window since first
	first        bigint NOT NULL,           -- first failure of the current window
	locked_until bigint NOT NULL DEFAULT 0  -- end of the lockout, 0: none
);

CREATE FUNCTION posthorn_login_failed(p_keys text[], p_limits integer[], p_now bigint, p_window bigint)
RETURNS TABLE (n integer, locked boolean) LANGUAGE plpgsql AS $$
DECLARE
	i integer;
BEGIN
	FOR i IN 1 .. coalesce(array_length(p_keys, 1), 0) LOOP
		INSERT INTO login_failures AS l (key, failures, first) VALUES (p_keys[i], 1, p_now)
		ON CONFLICT (key) DO UPDATE SET
			failures = CASE WHEN l.failures = 0 OR p_now - l.first > p_window THEN 1 ELSE l.failures + 1 END,
			first = CASE WHEN l.failures = 0 OR p_now - l.first > p_window THEN p_now ELSE l.first END
		RETURNING l.failures INTO n;
		locked := n >= p_limits[i];
		IF locked THEN
			-- Counting starts afresh after the lockout.
			UPDATE login_failures SET locked_until = p_now + p_window, failures = 0 WHERE key = p_keys[i];
		END IF;
		PERFORM pg_notify('` + loginsChannel + `', p_keys[i]);
		RETURN NEXT;
	END LOOP;
END $$;
`

// loginsBoundSchema (migration 11) bounds login_failures (the contract
// of auth.FailureStore): login_failures_size counts its records but the
// overflow records ("overflow:ip", "overflow:user"), kept by statement
// triggers, so every insert and delete, by any client, counts.
// posthorn_login_failed gets p_max: a key without a record takes the
// size row's lock (which orders the inserts of every node, so the count
// it reads is exact until it commits) and, at p_max, deletes the
// unlocked record that login_failures_evict finds first (never locked
// out, oldest first failure first; then the lockout that ended first;
// not one of the call's own keys, whose rows it holds itself),
// or, when every record is locked out, counts under its overflow record
// (the result's counted).
// Keys that have a record are counted first, before the size row: a
// delete (of a record, then the size row by its trigger) takes the locks
// in the same order, so the two never deadlock. The four-argument
// function of migration 9 stays for nodes not yet upgraded; it inserts
// without the bound, but its inserts are counted.
const loginsBoundSchema = `
CREATE TABLE login_failures_size (
	one boolean PRIMARY KEY DEFAULT true CHECK (one),
	n   bigint NOT NULL
);
INSERT INTO login_failures_size (n) SELECT count(*) FROM login_failures WHERE key NOT LIKE 'overflow:%';

CREATE INDEX login_failures_evict ON login_failures (locked_until, first);

-- The size row is written only when the statement inserted or deleted a
-- record: the failures of keys with records (ON CONFLICT DO UPDATE) and
-- a login's clearing of a name without one do not contend for it.
CREATE FUNCTION login_failures_counted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	d bigint;
BEGIN
	SELECT count(*) INTO d FROM changed_rows WHERE key NOT LIKE 'overflow:%';
	IF d > 0 THEN
		UPDATE login_failures_size SET n = n + CASE TG_OP WHEN 'INSERT' THEN d ELSE -d END;
	END IF;
	RETURN NULL;
END $$;
CREATE TRIGGER login_failures_inserted AFTER INSERT ON login_failures
	REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION login_failures_counted();
CREATE TRIGGER login_failures_deleted AFTER DELETE ON login_failures
	REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION login_failures_counted();

CREATE FUNCTION login_failures_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	UPDATE login_failures_size SET n = 0;
	RETURN NULL;
END $$;
CREATE TRIGGER login_failures_truncated AFTER TRUNCATE ON login_failures
	FOR EACH STATEMENT EXECUTE FUNCTION login_failures_truncated();

CREATE FUNCTION posthorn_login_failed(p_keys text[], p_limits integer[], p_now bigint, p_window bigint, p_max bigint)
RETURNS TABLE (n integer, locked boolean, counted text) LANGUAGE plpgsql AS $$
DECLARE
	nkeys   integer := coalesce(array_length(p_keys, 1), 0);
	keys    text[] := p_keys; -- the record counted: the key's or its overflow record
	counts  integer[];
	i       integer;
	c       integer;
	size    bigint;
	evicted text;
BEGIN
	FOR i IN 1 .. nkeys LOOP
		UPDATE login_failures AS l SET
			failures = CASE WHEN l.failures = 0 OR p_now - l.first > p_window THEN 1 ELSE l.failures + 1 END,
			first = CASE WHEN l.failures = 0 OR p_now - l.first > p_window THEN p_now ELSE l.first END
			WHERE key = keys[i] RETURNING l.failures INTO c;
		counts[i] := c; -- NULL: no record
	END LOOP;
	FOR i IN 1 .. nkeys LOOP
		CONTINUE WHEN counts[i] IS NOT NULL;
		SELECT s.n INTO size FROM login_failures_size s FOR UPDATE;
		IF size >= p_max THEN
			DELETE FROM login_failures WHERE key = (SELECT key FROM login_failures
				WHERE locked_until <= p_now AND key NOT LIKE 'overflow:%' AND key <> ALL (p_keys)
				ORDER BY locked_until, first LIMIT 1 FOR UPDATE SKIP LOCKED)
				RETURNING key INTO evicted;
			IF FOUND THEN
				PERFORM pg_notify('` + loginsChannel + `', evicted);
			ELSE
				keys[i] := 'overflow:' || split_part(keys[i], ':', 1);
			END IF;
		END IF;
		-- Another node inserting the same key at once: count on its record.
		INSERT INTO login_failures AS l (key, failures, first) VALUES (keys[i], 1, p_now)
		ON CONFLICT (key) DO UPDATE SET
			failures = CASE WHEN l.failures = 0 OR p_now - l.first > p_window THEN 1 ELSE l.failures + 1 END,
			first = CASE WHEN l.failures = 0 OR p_now - l.first > p_window THEN p_now ELSE l.first END
		RETURNING l.failures INTO c;
		counts[i] := c;
	END LOOP;
	FOR i IN 1 .. nkeys LOOP
		n := counts[i];
		locked := n >= p_limits[i];
		counted := keys[i];
		IF locked THEN
			-- Counting starts afresh after the lockout.
			UPDATE login_failures SET locked_until = p_now + p_window, failures = 0 WHERE key = keys[i];
		END IF;
		PERFORM pg_notify('` + loginsChannel + `', keys[i]);
		RETURN NEXT;
	END LOOP;
END $$;
`
