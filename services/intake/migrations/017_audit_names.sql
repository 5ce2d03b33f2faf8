-- The audit trail names the person for an operator's action taken on a page too (replay,
-- erasure): the audit log's actor is then her id at the identity provider, as a step's is.
CREATE OR REPLACE VIEW audit_trail AS
    SELECT t.at, COALESCE(t.person_id, t.actor_id) AS actor, s.name AS actor_name,
           t.action, t.referral_id, COALESCE(t.reason, '') AS reason
    FROM transitions t
    LEFT JOIN staff s ON s.person_id = COALESCE(t.person_id, t.actor_id)
    WHERE t.person_id IS NOT NULL OR (t.action = 'decided' AND t.actor_id <> 'rules')
    UNION ALL
    SELECT a.at, a.actor, s.name, a.action, a.referral_id, a.reason
    FROM audit_log a LEFT JOIN staff s ON s.person_id = a.actor;
