"""Kafka subscribers: routing decisions in, notifications out."""
