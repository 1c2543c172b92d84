-- Response and remission at the last observation over the analysis set (data-contract §6).
WITH po AS ({{course_outcomes}})
SELECT count(*) AS n_treated, count(*) FILTER (WHERE evaluable) AS n_evaluable,
       count(*) FILTER (WHERE responder) AS responders, count(*) FILTER (WHERE remitter) AS remitters,
       avg(baseline) FILTER (WHERE evaluable) AS mean_baseline,
       avg(last_score - baseline) FILTER (WHERE evaluable) AS mean_change
FROM po
