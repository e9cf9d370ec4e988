SELECT reason_code, count(*) FROM classified WHERE outcome = 'quarantined' GROUP BY reason_code ORDER BY reason_code;
