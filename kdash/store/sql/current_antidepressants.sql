-- One patient's antidepressants on $today: trials of the history begun by then and not ended before it (an open end
-- is taken as still going), newest first.
SELECT drug, dose_mg_per_day, start_date
FROM antidepressant_trials
WHERE patient_id = $patient_id
  AND (start_date IS NULL OR start_date <= $today::DATE)
  AND (end_date IS NULL OR end_date >= $today::DATE)
ORDER BY start_date DESC NULLS LAST, drug, dose_mg_per_day
