SELECT DISTINCT clinician FROM patients WHERE clinician IS NOT NULL ORDER BY clinician
