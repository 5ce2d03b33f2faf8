"""The Booking and Referral Standard's door (`/FHIR/R4`): BaRS FHIR R4 messages read and
checked, mapped to a referral submission v1 by data (`shared/bars_mapping.yaml`), refused as
OperationOutcomes. The only part of intake that knows `fhir.resources`."""
