-- The reserve and the release with generic plans (issue 14, point 5).
--
-- plpgsql plans each statement of a function once and reuses the plan, unless the planner
-- thinks plans made for each call's values would be cheaper; for the claim's `id = ANY(seats)`
-- it did (a generic plan assumes a longer array than a buyer's few seats), so every call planned
-- its statements again: a sixth of PostgreSQL's CPU per hold and release under an on-sale (perf,
-- docs/performance.md). Every statement of both functions, and of the seat-version triggers they
-- fire, finds its rows by key (the seat ids, the hold, the holder, the event), where the generic
-- plan is the same index scan as the custom one, so they always use it. Measured by pgbench on
-- a 2 000-seat event, 8 clients: about 1 600 -> 1 900 hold-and-release pairs per second.
ALTER FUNCTION seating_reserve(UUID, UUID, UUID, UUID[], INTERVAL, BIGINT)
    SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION seating_release(UUID, UUID)
    SET plan_cache_mode = force_generic_plan;
