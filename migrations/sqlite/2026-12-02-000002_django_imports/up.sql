-- What `planning-poker import-django` brought over: for each kind of row (user, session, story,
-- vote) and its id in the Django original, the id it got here. A second import recognises its
-- own rows by it and changes nothing.
CREATE TABLE django_imports (
    kind TEXT NOT NULL,
    django_id BIGINT NOT NULL,
    our_id BIGINT NOT NULL,
    PRIMARY KEY (kind, django_id)
);
