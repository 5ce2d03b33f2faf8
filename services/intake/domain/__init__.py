"""Intake's domain model: pure Python, no Kafka, no SQL."""
