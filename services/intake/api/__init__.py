"""The JSON API door (`/v1`): GP and hospital systems submit, read, amend and cancel their
referrals; clinic systems accept, return and list theirs; the notifier reads contacts."""
