-- The marketplace: accounts and tokens, publishers and their keys, package
-- versions and reviews, tenants, installs, and the hash-chained audit log.
-- Booleans are 0/1 integers so the same queries serve SQLite and PostgreSQL.

CREATE TABLE tenants (
    name       TEXT   PRIMARY KEY,
    title      TEXT   NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE publishers (
    name       TEXT   PRIMARY KEY,
    created_at BIGINT NOT NULL
);

CREATE TABLE accounts (
    id         TEXT   PRIMARY KEY,
    name       TEXT   NOT NULL UNIQUE,
    role       TEXT   NOT NULL,
    tenant     TEXT   REFERENCES tenants (name),
    publisher  TEXT   REFERENCES publishers (name),
    created_at BIGINT NOT NULL
);

-- Only the sha256 of a token is kept.
CREATE TABLE tokens (
    id         TEXT   PRIMARY KEY,
    hash       TEXT   NOT NULL UNIQUE,
    account    TEXT   NOT NULL REFERENCES accounts (id),
    label      TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

-- state: active (signs new versions), retired (rotated out: what it signed
-- stays valid), revoked (nothing it signed loads any more).
CREATE TABLE publisher_keys (
    key_id     TEXT   PRIMARY KEY,
    publisher  TEXT   NOT NULL REFERENCES publishers (name),
    public_key TEXT   NOT NULL UNIQUE,
    state      TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    changed_at BIGINT
);

CREATE TABLE package_versions (
    name            TEXT   NOT NULL,
    version         TEXT   NOT NULL,
    publisher       TEXT   NOT NULL REFERENCES publishers (name),
    kind            TEXT   NOT NULL,
    state           TEXT   NOT NULL,
    manifest        TEXT   NOT NULL,
    manifest_digest TEXT   NOT NULL,
    code_digest     TEXT   NOT NULL,
    key_id          TEXT   NOT NULL REFERENCES publisher_keys (key_id),
    size            BIGINT NOT NULL,
    package         BYTEA  NOT NULL,
    submitted_by    TEXT   NOT NULL,
    submitted_at    BIGINT NOT NULL,
    reviewed_by     TEXT,
    reviewed_at     BIGINT,
    reason          TEXT,
    PRIMARY KEY (name, version)
);
CREATE INDEX package_versions_by_state ON package_versions (state);

CREATE TABLE installs (
    tenant       TEXT   NOT NULL REFERENCES tenants (name),
    id           TEXT   NOT NULL,
    package      TEXT   NOT NULL,
    requirement  TEXT   NOT NULL,
    version      TEXT   NOT NULL,
    pending      TEXT,
    accepted     TEXT   NOT NULL,
    enabled      BIGINT NOT NULL,
    tracking     BIGINT NOT NULL,
    settings     TEXT   NOT NULL,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (tenant, id)
);

-- Every version a tenant ran, for rollback.
CREATE TABLE install_history (
    tenant  TEXT   NOT NULL,
    id      TEXT   NOT NULL,
    version TEXT   NOT NULL,
    since   BIGINT NOT NULL,
    PRIMARY KEY (tenant, id, version)
);

CREATE TABLE audit_log (
    seq       BIGINT PRIMARY KEY,
    at        BIGINT NOT NULL,
    actor     TEXT   NOT NULL,
    action    TEXT   NOT NULL,
    subject   TEXT   NOT NULL,
    tenant    TEXT,
    before    TEXT   NOT NULL,
    after     TEXT   NOT NULL,
    prev_hash TEXT   NOT NULL,
    hash      TEXT   NOT NULL
);

-- The chain's head. Every registry write updates it first, which serialises
-- writers on both engines and tells hosts when to refresh their caches.
CREATE TABLE audit_head (
    id   BIGINT PRIMARY KEY,
    seq  BIGINT NOT NULL,
    hash TEXT   NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
