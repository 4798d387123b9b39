-- The catalogue: venues, events and the canonical seat definition of each event.
-- Legacy rows keep the original system's id in `legacy_id` ("etsr:<entity>:<id>", see
-- docs/architecture.md), unique, so that re-running the import updates instead of duplicating.

CREATE TABLE venues (
    id          UUID        PRIMARY KEY,
    name        TEXT        NOT NULL,
    city        TEXT        NOT NULL,
    address     TEXT,
    capacity    INT         NOT NULL CONSTRAINT venues_capacity_check CHECK (capacity > 0),
    created_by  UUID,
    legacy_id   TEXT        CONSTRAINT venues_legacy_id_key UNIQUE,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- City filters compare case-insensitively.
CREATE INDEX venues_city ON venues (lower(city));

CREATE TABLE events (
    id            UUID          PRIMARY KEY,
    title         TEXT          NOT NULL,
    slug          TEXT          NOT NULL CONSTRAINT events_slug_key UNIQUE,
    event_type    TEXT          NOT NULL,
    status        TEXT          NOT NULL DEFAULT 'DRAFT'
                  CONSTRAINT events_status_check CHECK (status IN ('DRAFT', 'ON_SALE', 'SOLD_OUT', 'CANCELLED')),
    starts_at     TIMESTAMPTZ   NOT NULL,
    currency      TEXT          NOT NULL,
    base_price    NUMERIC(12,2) NOT NULL CONSTRAINT events_base_price_check CHECK (base_price >= 0),
    description   TEXT,
    venue_id      UUID          NOT NULL REFERENCES venues (id),
    organizer_id  UUID          NOT NULL,
    seat_count    INT           NOT NULL DEFAULT 0,
    cancel_reason TEXT,
    legacy_id     TEXT          CONSTRAINT events_legacy_id_key UNIQUE,
    -- Words of the title for `q`: the 'simple' configuration lower-cases and splits on
    -- non-letters without stemming, so "Jazz" finds "jazz" and "JAZZ" but not "jazzy".
    search        TSVECTOR      GENERATED ALWAYS AS (to_tsvector('simple', title)) STORED,
    -- The venue's city, lower-cased, kept here by the triggers below so that a search by city
    -- (the most common filter) is one index range, not a join.
    city_key      TEXT          NOT NULL DEFAULT '',
    created_at    TIMESTAMPTZ   NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ   NOT NULL DEFAULT now()
);
-- The list's filters: by status and date (every public list), by type and date, by venue, by
-- organizer (drafts), and the title words. Checked with EXPLAIN in docs/performance.md.
CREATE INDEX events_status_starts ON events (status, starts_at, id);
-- The public list (every status but DRAFT) in date order, without a sort.
CREATE INDEX events_public_starts ON events (starts_at, id) WHERE status <> 'DRAFT';
CREATE INDEX events_type_starts ON events (event_type, starts_at);
CREATE INDEX events_venue ON events (venue_id, starts_at);
CREATE INDEX events_organizer ON events (organizer_id);
CREATE INDEX events_search ON events USING GIN (search);
CREATE INDEX events_city_starts ON events (city_key, starts_at, id);
CREATE INDEX events_city_type_starts ON events (city_key, event_type, starts_at, id);

-- `city_key` follows the venue: set when an event is written or moves venue, and rewritten for
-- every event of a venue whose city changes. The database keeps it true, whoever writes.
CREATE FUNCTION events_set_city_key() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.city_key := (SELECT lower(city) FROM venues WHERE id = NEW.venue_id);
    RETURN NEW;
END $$;
CREATE TRIGGER events_city_key BEFORE INSERT OR UPDATE OF venue_id ON events
    FOR EACH ROW EXECUTE FUNCTION events_set_city_key();

CREATE FUNCTION venues_cascade_city() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE events SET city_key = lower(NEW.city) WHERE venue_id = NEW.id;
    RETURN NULL;
END $$;
CREATE TRIGGER venues_city_change AFTER UPDATE OF city ON venues
    FOR EACH ROW WHEN (OLD.city IS DISTINCT FROM NEW.city) EXECUTE FUNCTION venues_cascade_city();

CREATE TABLE seats (
    id        UUID          PRIMARY KEY,
    event_id  UUID          NOT NULL REFERENCES events (id),
    section   TEXT          NOT NULL,
    row       TEXT          NOT NULL,
    number    INT           NOT NULL CONSTRAINT seats_number_check CHECK (number > 0),
    price     NUMERIC(12,2) NOT NULL CONSTRAINT seats_price_check CHECK (price >= 0),
    legacy_id TEXT          CONSTRAINT seats_legacy_id_key UNIQUE,
    CONSTRAINT seats_place_key UNIQUE (event_id, section, row, number)
);
