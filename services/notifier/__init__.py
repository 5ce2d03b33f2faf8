"""Notifier service: Tells the patient, the clinic and the referrer, exactly once."""
