-- The audit trail: every action a person took on a referral, and every operator's action,
-- in one place (who, when, what, which referral, why). People's steps are the transitions
-- they took (a triage decision names the person as its decider); operators' actions are the
-- audit log's rows; a decision not made by the rules was a person's, on the triage page or an
-- operator's command line. Names are intake's (`staff`); the topics carry only ids.
CREATE VIEW audit_trail AS
    SELECT t.at, COALESCE(t.person_id, t.actor_id) AS actor, s.name AS actor_name,
           t.action, t.referral_id, COALESCE(t.reason, '') AS reason
    FROM transitions t
    LEFT JOIN staff s ON s.person_id = COALESCE(t.person_id, t.actor_id)
    WHERE t.person_id IS NOT NULL OR (t.action = 'decided' AND t.actor_id <> 'rules')
    UNION ALL
    SELECT a.at, a.actor, NULL, a.action, a.referral_id, a.reason FROM audit_log a;
