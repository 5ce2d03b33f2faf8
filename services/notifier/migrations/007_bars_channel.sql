-- News of a BaRS referral to the referring organisation's own $process-message.
ALTER TABLE notifications DROP CONSTRAINT notifications_channel_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_channel_check
    CHECK (channel IN ('sms', 'email', 'letter', 'webhook', 'bars'));
