"""Kafka subscribers: self-referral events in, routing decisions back (for status)."""
