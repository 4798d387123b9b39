-- A publication in progress (docs/architecture.md, catalog-service, "Publishing"). Publishing
-- records its intent in a short transaction, sends the seats to seating with no transaction or
-- lock held, and puts the event on sale in a second short transaction, only if the publication
-- it recorded is still the event's. Meanwhile the seats cannot be redefined, and another
-- publish is refused, until `publication_started_at` (renewed as the seats go) is older than
-- the lease (2 minutes): a publication whose process died is then taken over.
ALTER TABLE events ADD COLUMN publication_id UUID;
ALTER TABLE events ADD COLUMN publication_started_at TIMESTAMPTZ;
ALTER TABLE events ADD CONSTRAINT events_publication_complete
    CHECK ((publication_id IS NULL) = (publication_started_at IS NULL));
-- Only a draft is published: going on sale or being cancelled ends the publication.
ALTER TABLE events ADD CONSTRAINT events_publication_of_draft
    CHECK (publication_id IS NULL OR status = 'DRAFT');
