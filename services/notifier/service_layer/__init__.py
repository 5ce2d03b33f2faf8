"""Tell everyone a batch of decisions concerns, each message exactly once in practice.

Split by job: `batch` (the order of work for a batch of decisions), `claims` (rows and their
leases), `sending` (one message to its provider: pacing, retries, asking before resending),
`endings` (what a sent or failed message leaves behind: its event, its dead letter)."""

from notifier.service_layer.batch import Notifier
from notifier.service_layer.claims import HeldElsewhere, LeaseLost
from notifier.service_layer.endings import dead_letter
from notifier.service_layer.work import Incoming, Retry, Task

__all__ = ["HeldElsewhere", "Incoming", "LeaseLost", "Notifier", "Retry", "Task", "dead_letter"]
