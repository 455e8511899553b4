-- Each tenant's customer profiles. Contact fields are kept whole here; the
-- host masks them for components without `customers.contact`.
CREATE TABLE customers (
    tenant     TEXT   NOT NULL,
    id         TEXT   NOT NULL,
    name       TEXT   NOT NULL,
    company    TEXT,
    email      TEXT,
    phone      TEXT,
    address    TEXT,
    tags       TEXT   NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant, id)
);

CREATE INDEX events_by_customer ON events (tenant, customer);
