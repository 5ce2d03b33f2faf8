"""Notifier service: tells the patient, the clinic and the referrer, exactly once."""
