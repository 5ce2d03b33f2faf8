-- Clinics read the referrals routed to them (their key's organisation is the site id).
ALTER TABLE api_keys DROP CONSTRAINT api_keys_scope_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_scope_check
    CHECK (scope IN ('referrer', 'notifier', 'clinic'));
