CASE WHEN minute < 0 THEN (-minute)::VARCHAR || ' min before the dose' WHEN minute = 0 THEN 'at the dose'
     ELSE minute::VARCHAR || ' min after the dose' END
