SELECT DISTINCT action FROM audit_log ORDER BY action
