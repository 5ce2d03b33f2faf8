"""Intake service: takes referrals in (GP API, self-referral form and events)
and hands each off durably."""
