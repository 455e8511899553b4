-- Why a version waits as `pending` for an install: new permissions to
-- accept, or settings the version's component refused on roll-out.
ALTER TABLE installs ADD COLUMN pending_reason TEXT;
