-- The door a referral came in by (the JSON API, BaRS, the self-referral form) is its
-- `door`: `channel` is how a message is delivered, the notifier's word.
ALTER TABLE referrals RENAME COLUMN channel TO door;
ALTER TABLE referrals RENAME CONSTRAINT referrals_channel_check TO referrals_door_check;
