-- Publications (docs/architecture.md, seating-service, point 13). Catalog sends an event's seats
-- in several requests, each naming its publication; the event waits here as a DRAFT, where no
-- seat can be held, until the publication's last request opens it. Opening removes the seats an
-- earlier, failed publication left behind (never held, never sold: the event was never open).
ALTER TABLE events DROP CONSTRAINT events_status_check;
ALTER TABLE events ADD CONSTRAINT events_status_check
    CHECK (status IN ('DRAFT', 'ON_SALE', 'CANCELLED'));

-- The publication that last sent the seat; NULL for inventories sent without one.
ALTER TABLE seats ADD COLUMN publication_id UUID;
