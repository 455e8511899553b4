-- Canary rollouts: a candidate version of an install serving a share of the
-- tenant's calls. At most one runs per install; ended ones are kept.
CREATE TABLE canaries (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    install TEXT NOT NULL,
    package TEXT NOT NULL,
    current_version TEXT NOT NULL,
    candidate_version TEXT NOT NULL,
    -- Share of units on the candidate, in basis points (0..=10000).
    share INTEGER NOT NULL,
    auto_abort INTEGER NOT NULL,
    state TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    started_by TEXT NOT NULL,
    ended_at BIGINT,
    ended_by TEXT,
    reason TEXT,
    -- The guardrail figures when it ended (JSON).
    figures TEXT
);
CREATE UNIQUE INDEX canaries_running ON canaries (tenant, install) WHERE state = 'running';
CREATE INDEX canaries_by_install ON canaries (tenant, install, started_at);
-- What each host counted for each arm of a canary (JSON, cumulative), summed
-- across hosts for the guardrails.
CREATE TABLE canary_tallies (
    canary TEXT NOT NULL,
    host TEXT NOT NULL,
    tallies TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (canary, host)
);
-- The version of the component that emitted an event.
ALTER TABLE events ADD COLUMN version TEXT;
