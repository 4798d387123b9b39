-- A holder's active holds of an event: what the limit on held seats per holder counts.
CREATE INDEX holds_holder_active ON holds (holder_id, event_id) WHERE status = 'ACTIVE';
