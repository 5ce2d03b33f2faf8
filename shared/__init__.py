"""The project's common library: event contracts, topics, settings, broker, pool and logging."""
