-- Call recording per install: {"calls", "retention_hours"} while on, NULL off.
ALTER TABLE installs ADD COLUMN recording TEXT;
-- The ring of an install's recent calls, masked before they are stored:
-- function, arguments and outcome ({"ok": value} or {"error": {...}}).
CREATE TABLE recorded_calls (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    install TEXT NOT NULL,
    at BIGINT NOT NULL,
    version TEXT NOT NULL,
    function TEXT NOT NULL,
    args TEXT NOT NULL,
    outcome TEXT NOT NULL
);
CREATE INDEX recorded_calls_by_install ON recorded_calls (tenant, install, at);
-- Replays of an install's recordings (or of a package's fixture calls)
-- against a candidate version; the report is JSON once it finished.
CREATE TABLE replays (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    install TEXT NOT NULL,
    package TEXT NOT NULL,
    current_version TEXT NOT NULL,
    candidate_version TEXT NOT NULL,
    state TEXT NOT NULL,
    calls INTEGER NOT NULL,
    started_at BIGINT NOT NULL,
    started_by TEXT NOT NULL,
    finished_at BIGINT,
    error TEXT,
    report TEXT
);
CREATE INDEX replays_by_install ON replays (tenant, install, started_at);
