-- A claim is a lease: its owner (one notifier process) and when it ends. Another process
-- takes a row over only after the lease has ended, and reconciles it with the provider first.
ALTER TABLE notifications ADD COLUMN lease_owner uuid, ADD COLUMN lease_expires_at timestamptz;
