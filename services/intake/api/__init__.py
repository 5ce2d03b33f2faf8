"""HTTP: the professional referral API and the self-referral form."""
