"""Intake's adapters at the edge: PostgreSQL repositories and external providers."""
