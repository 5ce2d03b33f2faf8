"""Kafka subscribers: received referrals in, decisions out (through the outbox)."""
