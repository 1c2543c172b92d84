SELECT patient_id, drug, dose_mg_per_day, start_date, end_date, outcome, current_episode
FROM antidepressant_trials
WHERE $ids IS NULL OR list_contains($ids, patient_id)
ORDER BY patient_id, start_date, drug, dose_mg_per_day, end_date, outcome, current_episode
