-- The seat map's versions (docs/architecture.md, "The seat map"). Every statement that changes
-- seats (a hold's claim, a release, an expiry, a sale, a return, a cancellation, an inventory)
-- bumps its event's version in the same transaction, by trigger, so no path can forget it;
-- `layout_version` moves only when seats appear, disappear or change price.
--
-- An event's version is the SUM of its rows here: each transaction bumps the row of its own
-- shard (its connection's backend pid modulo 16), so that the commits of one event do not all
-- queue on one row lock (a single counter row cost about 40 % of the holds per second). Every
-- committed bump adds 1, so the sum read in a snapshot counts the bumping transactions that
-- snapshot sees: it grows with every commit, and two snapshots with the same sum see the same
-- changes. A transaction bumps one shard only, so two bumping transactions wait for each other
-- at most once per event, in event order: the bump's lock is the last one its statement takes,
-- and nothing else is waited for after it. No foreign key: its check would lock the event row
-- (KEY SHARE), which a cancellation holds while it waits for the holds' locks.
CREATE TABLE seat_versions (
    event_id       UUID     NOT NULL,
    shard          SMALLINT NOT NULL,
    version        BIGINT   NOT NULL DEFAULT 0,
    layout_version BIGINT   NOT NULL DEFAULT 0,
    CONSTRAINT seat_versions_pkey PRIMARY KEY (event_id, shard)
);
INSERT INTO seat_versions (event_id, shard, version, layout_version)
SELECT id, 0, 1, 1 FROM events;

-- ORDER BY event_id: a statement over several events (the sweeper's) locks them in one order.
CREATE FUNCTION seat_versions_bump_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO seat_versions AS v (event_id, shard, version, layout_version)
    SELECT DISTINCT event_id, (pg_backend_pid() % 16)::smallint, 1, 1 FROM changed ORDER BY event_id
    ON CONFLICT (event_id, shard) DO UPDATE
        SET version = v.version + 1, layout_version = v.layout_version + 1;
    RETURN NULL;
END $$;

CREATE FUNCTION seat_versions_bump_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO seat_versions AS v (event_id, shard, version, layout_version)
    SELECT DISTINCT event_id, (pg_backend_pid() % 16)::smallint, 1, 1 FROM changed ORDER BY event_id
    ON CONFLICT (event_id, shard) DO UPDATE
        SET version = v.version + 1, layout_version = v.layout_version + 1;
    RETURN NULL;
END $$;

CREATE FUNCTION seat_versions_bump_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO seat_versions AS v (event_id, shard, version, layout_version)
    SELECT a.event_id, (pg_backend_pid() % 16)::smallint, 1,
           max(CASE WHEN a.price <> b.price THEN 1 ELSE 0 END)
    FROM after a JOIN before b ON b.id = a.id
    GROUP BY a.event_id ORDER BY a.event_id
    ON CONFLICT (event_id, shard) DO UPDATE
        SET version = v.version + 1,
            layout_version = v.layout_version + EXCLUDED.layout_version;
    RETURN NULL;
END $$;

CREATE TRIGGER seats_versions_insert AFTER INSERT ON seats
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT
    EXECUTE FUNCTION seat_versions_bump_inserted();
CREATE TRIGGER seats_versions_delete AFTER DELETE ON seats
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT
    EXECUTE FUNCTION seat_versions_bump_deleted();
CREATE TRIGGER seats_versions_update AFTER UPDATE ON seats
    REFERENCING OLD TABLE AS before NEW TABLE AS after FOR EACH STATEMENT
    EXECUTE FUNCTION seat_versions_bump_updated();

-- The map shows the event's status too (ON_SALE, SOLD_OUT, CANCELLED): a change of it is a new
-- version of the map. Deferred to commit, so that a cancellation, which changes the event row
-- before it waits for the locks of holds under way, takes the version's lock last too.
CREATE FUNCTION seat_versions_bump_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO seat_versions AS v (event_id, shard, version)
    VALUES (NEW.id, (pg_backend_pid() % 16)::smallint, 1)
    ON CONFLICT (event_id, shard) DO UPDATE SET version = v.version + 1;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER events_versions AFTER UPDATE OF status, sold_out ON events
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.sold_out IS DISTINCT FROM NEW.sold_out)
    EXECUTE FUNCTION seat_versions_bump_event();
