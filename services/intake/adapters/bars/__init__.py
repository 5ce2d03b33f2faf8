"""NHS England's Booking and Referral Standard (BaRS) at intake's edge: FHIR R4 messages in
and out, mapped to and from the referral submission v1 by data (`shared/bars_mapping.yaml`)."""
