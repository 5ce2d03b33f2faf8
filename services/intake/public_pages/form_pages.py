"""The self-referral pages: one per service group, and the words on each form.

Which services accept a self-referral is the router's decision (its directory); these pages
only offer the groups where a woman may start one and explain the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.contracts import ServiceCode


@dataclass(frozen=True)
class FormPage:
    slug: str
    title: str
    intro: str
    services: tuple[tuple[ServiceCode, str], ...]


PAGES: dict[str, FormPage] = {
    page.slug: page
    for page in (
        FormPage(
            slug="pelvic-health",
            title="Pelvic health support in pregnancy and after birth",
            intro=(
                "Pelvic health clinics help with problems many women have during pregnancy "
                "or in the year after having a baby. You can ask for help yourself."
            ),
            services=((ServiceCode.PELVIC_HEALTH, "Pelvic health clinic"),),
        ),
        FormPage(
            slug="womens-health-hub",
            title="Women's health hubs in Kent and Medway",
            intro="Women's health hubs offer care close to home. Choose what you need help with.",
            services=(
                (ServiceCode.CONTRACEPTION, "Contraception, including coils and implants"),
                (ServiceCode.CERVICAL_SCREENING, "Cervical screening"),
                (ServiceCode.STI, "Sexual health testing and treatment"),
                (ServiceCode.MENOPAUSE, "Menopause"),
                (ServiceCode.MENSTRUAL, "Period problems"),
                (ServiceCode.PESSARY, "Pessary fitting or removal"),
                (ServiceCode.PRE_CONCEPTION, "Planning a pregnancy"),
                (ServiceCode.BREAST_PAIN, "Breast pain"),
            ),
        ),
    )
}

# Field path -> how the form asks for it (labels also word the "missing" errors).
LABELS: dict[str, str] = {
    "service": "what you need help with",
    "patient.given_name": "your first name",
    "patient.family_name": "your last name",
    "patient.date_of_birth": "your date of birth",
    "patient.nhs_number": "your NHS number",
    "patient.sex_at_birth": "your sex registered at birth",
    "patient.postcode": "your postcode",
    "patient.email": "your email address",
    "patient.mobile": "your mobile number",
    "patient.address.line_1": "your address",
    "patient.contact_preferences": "how we may contact you",
    "clinical.pregnancy_status": "whether you are pregnant or have had a baby",
    "clinical.expected_delivery_date": "your due date",
    "clinical.delivery_date": "the date your baby was born",
    "clinical.reason": "what you would like help with",
}
