-- How many patients are in each phase on $today (sql/patient_phases.sql's definition).
SELECT phase, count(*) AS patients FROM ({{patient_phases}}) GROUP BY phase
