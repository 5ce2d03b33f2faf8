"""A local stack without Docker: real Apache Kafka (KRaft) and real PostgreSQL on this machine."""
