package postgres

// greylistSchema (migration 6) is the greylisting state that every node
// shares (greylist.go, greylist.Shared). Times are µs since 1970 from the
// clock of the node that decided; networks and addresses are text as
// package greylist writes them (clientnet prefix, lower case).
// posthorn_greylist decides one attempt in one round trip; its result
// names a greylist.Verdict.
const greylistSchema = `
CREATE TABLE greylist_networks (
	net  text PRIMARY KEY,
	last bigint NOT NULL -- last message let in, rewritten at most once per p_touch
);

CREATE TABLE greylist_triplets (
	net    text NOT NULL,
	sender text NOT NULL,
	rcpt   text NOT NULL,
	first  bigint NOT NULL, -- first attempt of the current round
	passed bigint,          -- last message let in, NULL until the retry passed
	PRIMARY KEY (net, sender, rcpt)
);

CREATE FUNCTION posthorn_greylist(p_net text, p_sender text, p_rcpt text, p_now bigint,
	p_delay bigint, p_window bigint, p_expiry bigint, p_touch bigint, p_full boolean)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	n_last   bigint;
	t_first  bigint;
	t_passed bigint;
BEGIN
	SELECT last INTO n_last FROM greylist_networks WHERE net = p_net;
	IF FOUND AND p_now - n_last < p_expiry THEN
		IF p_now - n_last >= p_touch THEN
			UPDATE greylist_networks SET last = greatest(last, p_now) WHERE net = p_net;
		END IF;
		RETURN 'network';
	END IF;
	SELECT first, passed INTO t_first, t_passed FROM greylist_triplets
		WHERE net = p_net AND sender = p_sender AND rcpt = p_rcpt FOR UPDATE;
	IF NOT FOUND THEN
		IF p_full THEN
			RETURN 'full';
		END IF;
		-- Another node inserting the same triplet at once: its row counts.
		INSERT INTO greylist_triplets (net, sender, rcpt, first) VALUES (p_net, p_sender, p_rcpt, p_now)
			ON CONFLICT DO NOTHING;
		RETURN 'first';
	END IF;
	IF (t_passed IS NULL AND p_now - t_first >= p_window) OR (t_passed IS NOT NULL AND p_now - t_passed >= p_expiry) THEN
		UPDATE greylist_triplets SET first = p_now, passed = NULL
			WHERE net = p_net AND sender = p_sender AND rcpt = p_rcpt;
		RETURN 'first';
	END IF;
	IF t_passed IS NULL AND p_now - t_first < p_delay THEN
		RETURN 'soon';
	END IF;
	IF t_passed IS NULL OR p_now - t_passed >= p_touch THEN
		UPDATE greylist_triplets SET passed = p_now
			WHERE net = p_net AND sender = p_sender AND rcpt = p_rcpt;
	END IF;
	INSERT INTO greylist_networks AS g (net, last) VALUES (p_net, p_now)
		ON CONFLICT (net) DO UPDATE SET last = greatest(g.last, EXCLUDED.last);
	RETURN 'passed';
END $$;
`
