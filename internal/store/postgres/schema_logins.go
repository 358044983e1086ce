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
