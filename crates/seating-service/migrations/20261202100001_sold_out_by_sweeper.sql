-- Sold out is no longer counted under the event row's lock by every sale and return (which made
-- the sales of one event queue behind each other): the sweeper finds the events whose seats are
-- all sold, or no longer all sold, and flips `sold_out` with one conditional UPDATE each way,
-- announcing `seating.sold_out` / `seating.available` in the same transaction.
ALTER TABLE events DROP COLUMN unsold;
-- The sweeper's question, for each event on sale: is any seat left unsold?
CREATE INDEX seats_unsold ON seats (event_id) WHERE sold_order_id IS NULL;
