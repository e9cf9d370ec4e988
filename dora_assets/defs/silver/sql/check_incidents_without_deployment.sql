-- Incidents that name a root cause no production deployment shipped: either the commit never
-- reached production through a known deployment (missing deployment or push webhooks), or the
-- sha in the issue is wrong. Such incidents cannot count as change failures.
WITH shipped AS (SELECT DISTINCT change_id FROM silver.deployment_changes),
unmatched AS (
    SELECT incidents.*
    FROM silver.incidents AS incidents
    WHERE root_cause_sha IS NOT NULL
      AND NOT EXISTS (
          SELECT 1 FROM shipped
          WHERE left(shipped.change_id, 7) = left(incidents.root_cause_sha, 7)
            AND starts_with(shipped.change_id, incidents.root_cause_sha)
      )
)
SELECT
    (SELECT count(*) FROM silver.incidents WHERE root_cause_sha IS NOT NULL) AS with_root_cause,
    count(*) AS affected,
    list(repo || '#' || incident_id || ' root cause ' || root_cause_sha ORDER BY time_created DESC)[1:$max_examples] AS examples,
    list(DISTINCT repo ORDER BY repo)[1:$max_examples] AS repos,
    list(DISTINCT time_created::DATE ORDER BY time_created::DATE DESC)[1:$max_examples] AS days
FROM unmatched;
