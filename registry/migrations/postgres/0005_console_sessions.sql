-- Console sign-ins. Only sha256 digests of the cookie value and of the
-- one-time sign-in codes are kept. A session opened with a bearer token ends
-- when that token is revoked.
CREATE TABLE console_sessions (
    id         TEXT   PRIMARY KEY,
    account    TEXT   NOT NULL REFERENCES accounts (id),
    token      TEXT   REFERENCES tokens (id),
    csrf       TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE sign_in_links (
    code       TEXT   PRIMARY KEY,
    account    TEXT   NOT NULL REFERENCES accounts (id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
