-- Per-(tenant, component) key/value state with one version per scope, bumped
-- by every commit (optimistic concurrency across hosts).
CREATE TABLE state_scopes (
    tenant    TEXT    NOT NULL,
    component TEXT    NOT NULL,
    version   BIGINT  NOT NULL,
    PRIMARY KEY (tenant, component)
);

CREATE TABLE state_entries (
    tenant    TEXT NOT NULL,
    component TEXT NOT NULL,
    key       TEXT NOT NULL,
    value     BYTEA NOT NULL,
    PRIMARY KEY (tenant, component, key)
);

CREATE TABLE events (
    id          BIGSERIAL PRIMARY KEY,
    tenant      TEXT   NOT NULL,
    component   TEXT   NOT NULL,
    name        TEXT   NOT NULL,
    customer    TEXT,
    properties  TEXT   NOT NULL,
    occurred_at BIGINT NOT NULL
);
CREATE INDEX events_by_tenant ON events (tenant, occurred_at);

CREATE TABLE approvals (
    id           TEXT   PRIMARY KEY,
    tenant       TEXT   NOT NULL,
    component    TEXT   NOT NULL,
    subject      TEXT   NOT NULL,
    summary      TEXT   NOT NULL,
    details      TEXT   NOT NULL,
    status       TEXT   NOT NULL,
    requested_at BIGINT NOT NULL,
    decided_by   TEXT,
    decided_at   BIGINT,
    reason       TEXT
);
CREATE INDEX approvals_by_tenant ON approvals (tenant, status);
