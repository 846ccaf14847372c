-- Security events are kept for `security_event_retention` and then deleted, oldest first,
-- in bounded batches (audit/retention.rs): this index finds them without a scan.
CREATE INDEX security_events_at ON security_events (at);
