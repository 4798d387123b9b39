-- The seat map's versions (docs/architecture.md, "The seat map"). Every statement that changes
-- seats (a hold's claim, a release, an expiry, a sale, a return, a cancellation, an inventory)
-- bumps its event's `version` in the same transaction, by trigger, so no path can forget it;
-- `layout_version` moves only when seats appear, disappear or change price.
--
-- A table of its own rather than a column of `events`, and taken last: the row lock the bump
-- takes comes at the end of a transaction's statement on seats (or at commit), after which the
-- transaction waits for no other lock. So it cannot deadlock with a cancellation or an
-- inventory, which lock the event row before seats and holds. The lock also makes one event's
-- versions follow the order in which their transactions commit.
CREATE TABLE seat_versions (
    event_id       UUID   PRIMARY KEY REFERENCES events (id),
    version        BIGINT NOT NULL DEFAULT 0,
    layout_version BIGINT NOT NULL DEFAULT 0
);
INSERT INTO seat_versions (event_id, version, layout_version)
SELECT id, 1, 1 FROM events;

-- ORDER BY event_id: a statement over several events (the sweeper's) locks them in one order.
CREATE FUNCTION seat_versions_bump_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO seat_versions AS v (event_id, version, layout_version)
    SELECT DISTINCT event_id, 1, 1 FROM changed ORDER BY event_id
    ON CONFLICT (event_id) DO UPDATE
        SET version = v.version + 1, layout_version = v.layout_version + 1;
    RETURN NULL;
END $$;

CREATE FUNCTION seat_versions_bump_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE seat_versions v SET version = v.version + 1, layout_version = v.layout_version + 1
    WHERE v.event_id IN (SELECT event_id FROM changed);
    RETURN NULL;
END $$;

CREATE FUNCTION seat_versions_bump_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO seat_versions AS v (event_id, version, layout_version)
    SELECT a.event_id, 1, max(CASE WHEN a.price <> b.price THEN 1 ELSE 0 END)
    FROM after a JOIN before b ON b.id = a.id
    GROUP BY a.event_id ORDER BY a.event_id
    ON CONFLICT (event_id) DO UPDATE
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
    INSERT INTO seat_versions AS v (event_id, version) VALUES (NEW.id, 1)
    ON CONFLICT (event_id) DO UPDATE SET version = v.version + 1;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER events_versions AFTER UPDATE OF status, sold_out ON events
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.sold_out IS DISTINCT FROM NEW.sold_out)
    EXECUTE FUNCTION seat_versions_bump_event();
