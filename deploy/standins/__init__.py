"""Local stand-ins for the external providers, speaking their real protocols: a GOV.UK
Notify-compatible API (checks the client's JWT), an SMTP server, and a clinic's webhook
receiver (verifies signatures). Kafka and PostgreSQL are never stood in for."""
