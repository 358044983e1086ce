package postgres

// directorySchema (migration 4) makes every change to the tables the
// directory cache (dircache.go) reads from announce itself at commit on
// directoryChannel, whoever makes it: a node, the CLI, psql, a cascade.
// Statement-level, so a transaction sends one notification per statement
// (pg_notify folds identical ones of a transaction into one).
const directorySchema = `
CREATE FUNCTION directory_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('` + directoryChannel + `', '');
	RETURN NULL;
END $$;
CREATE TRIGGER domains_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON domains
	FOR EACH STATEMENT EXECUTE FUNCTION directory_changed();
CREATE TRIGGER accounts_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON accounts
	FOR EACH STATEMENT EXECUTE FUNCTION directory_changed();
CREATE TRIGGER aliases_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON aliases
	FOR EACH STATEMENT EXECUTE FUNCTION directory_changed();
CREATE TRIGGER alias_targets_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON alias_targets
	FOR EACH STATEMENT EXECUTE FUNCTION directory_changed();
`
