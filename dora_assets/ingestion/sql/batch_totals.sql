SELECT
    count(DISTINCT landing_file) AS files,
    count(*) AS seen,
    count(*) FILTER (WHERE outcome = 'landed') AS landed,
    count(*) FILTER (WHERE outcome = 'quarantined') AS quarantined,
    count(*) FILTER (WHERE outcome = 'duplicate') AS duplicates
FROM classified;
