-- Every registry change moves the audit head; tell listening hosts at once
-- (delivered when the changing transaction commits), so that they drop
-- their caches instead of waiting for their next look at the head.
CREATE FUNCTION mercato_registry_changed() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('mercato_registry', NEW.seq::text);
    RETURN NEW;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER audit_head_changed AFTER UPDATE ON audit_head
    FOR EACH ROW EXECUTE FUNCTION mercato_registry_changed();
