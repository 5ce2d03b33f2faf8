-- Channel fallback on delivery receipts (notifier.service_layer.fallback): an SMS or email to
-- the woman waits for Notify's receipt until `receipt_due_at`; a failed receipt makes it due
-- at once. When due and not delivered, the same message goes once by her next channel: a new
-- row (`fallback_of` the one that failed), and the failed one records what followed it.
-- `told` is the event that called for the message (identifier-free) and the topic it came
-- from, kept to plan the same message again.
ALTER TABLE notifications
    ADD COLUMN told jsonb,
    ADD COLUMN told_topic text,
    ADD COLUMN receipt_due_at timestamptz,
    ADD COLUMN fallback_of uuid REFERENCES notifications (notification_id),
    ADD COLUMN fell_back_at timestamptz,
    ADD COLUMN fallback text;
CREATE INDEX notifications_awaiting_receipt ON notifications (receipt_due_at)
    WHERE fell_back_at IS NULL AND receipt_due_at IS NOT NULL;
CREATE INDEX notifications_open_fallbacks ON notifications (created_at)
    WHERE fallback_of IS NOT NULL AND status IN ('pending', 'sending');
