-- What each scope holds, kept with its version so a commit can check the
-- scope's quota without counting its entries.
ALTER TABLE state_scopes ADD COLUMN entry_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE state_scopes ADD COLUMN entry_bytes BIGINT NOT NULL DEFAULT 0;
UPDATE state_scopes SET
    entry_count = (SELECT COUNT(*) FROM state_entries e
                   WHERE e.tenant = state_scopes.tenant AND e.component = state_scopes.component),
    entry_bytes = (SELECT COALESCE(SUM(octet_length(e.key) + octet_length(e.value)), 0) FROM state_entries e
                   WHERE e.tenant = state_scopes.tenant AND e.component = state_scopes.component);

-- The limits a tenant lowered below the platform's caps (a JSON object of
-- manifest limit names; absent ones stay at the caps).
ALTER TABLE tenants ADD COLUMN limits TEXT NOT NULL DEFAULT '{}';
