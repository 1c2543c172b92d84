SELECT chair FROM chairs WHERE active ORDER BY length(chair), chair
