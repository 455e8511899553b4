-- Guarded functions per install: a JSON list of {function, when}.
ALTER TABLE installs ADD COLUMN guards TEXT NOT NULL DEFAULT '[]';
-- A call held for a decision by a guard: {"function", "args"} (the real
-- arguments, run on approval; the inbox shows them masked in `details`).
ALTER TABLE approvals ADD COLUMN held_call TEXT;
-- The customer an approval request is about (WIT 0.2), for that customer's
-- export and erasure.
ALTER TABLE approvals ADD COLUMN customer TEXT;
CREATE INDEX approvals_by_customer ON approvals (tenant, customer);
