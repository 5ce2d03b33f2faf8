"""Router service: decides where each referral may go: routed, rejected or needs
triage, with reasons."""
