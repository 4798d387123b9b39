-- A reserve and a release, each one statement from the service (issue 14, point 5). Both were a
-- transaction of 6 to 8 round trips (BEGIN, each statement, COMMIT), plus a read of the event
-- before the reserve's; the round trips, not the rows written, were most of the cost on two
-- cores. Each is now a function called in one statement (its own transaction), doing the same
-- steps in the same lock order (docs/architecture.md, "Lock order"): a plpgsql function's
-- statements each take a new snapshot under READ COMMITTED, as the service's did.

-- Answers that write nothing (a conflict, a refusal) still took row locks, and a transaction
-- that locked rows flushes its commit; nothing of it needs to be durable.
CREATE FUNCTION seating_commit_lightly() RETURNS void LANGUAGE sql AS $$
    SELECT set_config('synchronous_commit', 'off', true);
$$;

-- outcome: 'held' (one row per seat held); or one row 'no_event', 'not_on_sale',
-- 'unknown_status' (a status this function does not know), or 'limit'
-- (`held`: the seats the holder holds already); or, when some seats could not be had, nothing
-- held and one row per requested seat: 'free', 'taken' or 'unknown' (not a seat of the event).
CREATE FUNCTION seating_reserve(
    p_hold UUID, p_event UUID, p_holder UUID, p_seats UUID[], p_ttl INTERVAL, p_max_held BIGINT)
RETURNS TABLE (outcome TEXT, currency TEXT, expires_at TIMESTAMPTZ, held BIGINT,
               id UUID, section TEXT, "row" TEXT, number INT, price NUMERIC)
LANGUAGE plpgsql AS $$
DECLARE
    v_status TEXT;
    v_currency TEXT;
    v_held BIGINT;
    v_free UUID[];
BEGIN
    -- KEY SHARE on the event row, the reserve's first lock (as the hold insert's foreign key
    -- took it before): only a cancellation (FOR UPDATE) blocks it, and the status read under
    -- it is then CANCELLED (point 9).
    SELECT e.status, e.currency INTO v_status, v_currency
    FROM events e WHERE e.id = p_event FOR KEY SHARE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'no_event', NULL, NULL::timestamptz, 0::bigint,
                            NULL::uuid, NULL, NULL, NULL::int, NULL::numeric;
        RETURN;
    END IF;
    IF v_status <> 'ON_SALE' THEN
        PERFORM seating_commit_lightly();
        -- A status the service does not know is its error (500), not the buyer's.
        RETURN QUERY SELECT CASE WHEN v_status IN ('DRAFT', 'CANCELLED') THEN 'not_on_sale'
                                 ELSE 'unknown_status' END, NULL, NULL::timestamptz, 0::bigint,
                            NULL::uuid, NULL, NULL, NULL::int, NULL::numeric;
        RETURN;
    END IF;
    -- One holder's reserves of one event take turns here, and the count below (a new
    -- snapshot) sees what the ones before committed (point 14).
    PERFORM pg_advisory_xact_lock(hashtext(p_holder::text), hashtext(p_event::text));
    SELECT count(*) INTO v_held
    FROM holds h JOIN seats s ON s.hold_id = h.id
    WHERE h.holder_id = p_holder AND h.event_id = p_event AND h.status = 'ACTIVE'
      AND s.held_until > now();
    IF v_held + cardinality(p_seats) > p_max_held THEN
        PERFORM seating_commit_lightly();
        RETURN QUERY SELECT 'limit', NULL, NULL::timestamptz, v_held,
                            NULL::uuid, NULL, NULL, NULL::int, NULL::numeric;
        RETURN;
    END IF;
    -- THE claim (point 2), its lock first: the requested seats free right now, skipping those
    -- another transaction has locked. All of them or nothing is written.
    SELECT array_agg(f.id) INTO v_free
    FROM (SELECT s.id FROM seats s
          WHERE s.event_id = p_event AND s.id = ANY (p_seats)
            AND s.sold_order_id IS NULL
            AND (s.held_until IS NULL OR s.held_until <= now())
          ORDER BY s.id
          FOR UPDATE SKIP LOCKED) f;
    IF coalesce(cardinality(v_free), 0) < cardinality(p_seats) THEN
        PERFORM seating_commit_lightly();
        RETURN QUERY
        SELECT CASE WHEN r.seat = ANY (v_free) THEN 'free'
                    WHEN EXISTS (SELECT 1 FROM seats s WHERE s.id = r.seat AND s.event_id = p_event)
                    THEN 'taken' ELSE 'unknown' END,
               NULL, NULL::timestamptz, v_held, r.seat, NULL, NULL, NULL::int, NULL::numeric
        FROM unnest(p_seats) AS r(seat);
        RETURN;
    END IF;
    INSERT INTO holds (id, event_id, holder_id, status, expires_at)
    VALUES (p_hold, p_event, p_holder, 'ACTIVE', now() + p_ttl);
    RETURN QUERY
    WITH claimed AS (
        UPDATE seats s SET hold_id = p_hold, held_until = now() + p_ttl
        WHERE s.id = ANY (v_free)
        RETURNING s.id, s.section, s.row, s.number, s.price
    ), recorded AS (
        INSERT INTO hold_seats (hold_id, seat_id, price) SELECT p_hold, c.id, c.price FROM claimed c
    )
    SELECT 'held', v_currency, now() + p_ttl, v_held, c.id, c.section, c.row, c.number, c.price
    FROM claimed c;
END $$;

-- Releases an ACTIVE, unexpired hold of `p_holder` (NULL: of anyone, for a service) and frees
-- its seats. One row per seat of the hold, with its effective status after the call (RELEASED,
-- or as it was: EXPIRED, RELEASED, ALLOCATED, which the service refuses); no row: no such hold
-- (or another holder's).
CREATE FUNCTION seating_release(p_hold UUID, p_holder UUID)
RETURNS TABLE (status TEXT, event_id UUID, holder_id UUID, expires_at TIMESTAMPTZ,
               order_id UUID, currency TEXT,
               id UUID, section TEXT, "row" TEXT, number INT, price NUMERIC)
LANGUAGE plpgsql AS $$
DECLARE
    h RECORD;
    v_status TEXT;
BEGIN
    -- The hold row's lock orders this against an allocation, an expiry and a cancellation.
    SELECT hh.status, hh.event_id, hh.holder_id, hh.expires_at, hh.order_id,
           hh.expires_at <= now() AS expired
    INTO h FROM holds hh WHERE hh.id = p_hold FOR UPDATE;
    IF NOT FOUND OR (p_holder IS NOT NULL AND h.holder_id <> p_holder) THEN
        PERFORM seating_commit_lightly();
        RETURN;
    END IF;
    v_status := CASE WHEN h.status = 'ACTIVE' AND h.expired THEN 'EXPIRED' ELSE h.status END;
    IF v_status = 'ACTIVE' THEN
        UPDATE holds SET status = 'RELEASED', updated_at = now() WHERE holds.id = p_hold;
        UPDATE seats SET hold_id = NULL, held_until = NULL
        WHERE seats.hold_id = p_hold AND seats.sold_order_id IS NULL;
        v_status := 'RELEASED';
    ELSE
        PERFORM seating_commit_lightly();
    END IF;
    RETURN QUERY
    SELECT v_status, h.event_id, h.holder_id, h.expires_at, h.order_id, e.currency,
           s.id, s.section, s.row, s.number, hs.price
    FROM hold_seats hs JOIN seats s ON s.id = hs.seat_id JOIN events e ON e.id = h.event_id
    WHERE hs.hold_id = p_hold
    ORDER BY s.section, s.row, s.number;
END $$;
