"""`referrals`: the operations command for the people watching the topics."""
