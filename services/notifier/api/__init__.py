"""HTTP: delivery receipts from GOV.UK Notify."""
