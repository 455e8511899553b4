-- Where a director's decision stands with the component that asked:
-- '' while undecided; waiting, delivering, accepted, refused or failed after.
ALTER TABLE approvals ADD COLUMN delivery TEXT NOT NULL DEFAULT '';
-- The component's answer (accepted, refused) or the host's last error.
ALTER TABLE approvals ADD COLUMN delivery_reply TEXT;
ALTER TABLE approvals ADD COLUMN delivery_attempts BIGINT NOT NULL DEFAULT 0;
ALTER TABLE approvals ADD COLUMN delivery_claimed_at BIGINT;
ALTER TABLE approvals ADD COLUMN delivered_at BIGINT;
-- Decisions made before this keep '' (not recorded): they were delivered at
-- once or never, and delivering them now could repeat one.
CREATE INDEX approvals_waiting ON approvals (tenant, component, delivery);
