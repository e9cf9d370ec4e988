-- Decide each staged record's fate: landed, duplicate or quarantined (with a precise reason).
-- A duplicate is a record whose (source, delivery_id) landed before or earlier in the batch: ids
-- are unique only within their source (defs/bronze/sql/schema.sql).
-- The envelope rules are those of dora_assets.ingestion.envelope.Envelope (a test holds the two
-- to the same verdicts). Parameters: $known_sources, $known_event_types ('source:event_type'),
-- $timestamp_pattern (envelope.RECEIVED_AT_PATTERN, the one rule for received_at's form; 't' and
-- 'z' are read as 'T' and 'Z'), $received_at_earliest and $received_at_latest (the plausible
-- range: a valid envelope stamped outside it is quarantined as implausible_received_at).
-- Each record is parsed once: one json_extract takes the five envelope fields (the payload
-- re-serialized as it is landed, the others small JSON values whose type and text are read
-- cheaply); a record that is not valid JSON gets NULL. Only the root type of a record that does
-- not start with '{' needs a second parse (to name it in the reason).
CREATE OR REPLACE TEMP TABLE classified AS
WITH parsed AS (
    SELECT
        staged.*,
        files.file_order,
        CASE WHEN staged.reject_code IS NULL
             THEN try(json_extract(staged.record_text, ['$.source', '$.event_type', '$.delivery_id', '$.received_at', '$.payload']))
        END AS parts
    FROM staged_records AS staged
    JOIN batch_files AS files USING (landing_file)
),
fields AS (
    SELECT
        * EXCLUDE (parts),
        parts IS NOT NULL AS is_json,
        CASE WHEN parts IS NULL THEN NULL
             WHEN starts_with(record_text, '{') THEN 'OBJECT'
             ELSE json_type(record_text) END AS top_type,
        json_type(parts[1]) AS source_type,
        json_type(parts[2]) AS event_type_type,
        json_type(parts[3]) AS delivery_id_type,
        json_type(parts[4]) AS received_at_type,
        CASE WHEN starts_with(parts[5], '{') THEN 'OBJECT' ELSE json_type(parts[5]) END AS payload_type,
        parts[1] ->> '$' AS source,
        parts[2] ->> '$' AS event_type,
        parts[3] ->> '$' AS delivery_id,
        parts[4] ->> '$' AS received_at_text,
        CASE WHEN regexp_full_match(parts[4] ->> '$', $timestamp_pattern)
             THEN try_cast(upper(parts[4] ->> '$') AS TIMESTAMPTZ) END AS received_at_value,
        parts[5] AS payload_document
    FROM parsed
),
envelope_checked AS (
    SELECT
        *,
        CASE
            WHEN reject_code IS NOT NULL THEN reject_reason
            WHEN NOT is_json THEN 'not valid JSON'
            WHEN top_type <> 'OBJECT' THEN 'envelope must be a JSON object, got ' || json_kind(top_type)
            WHEN source_type IS NULL THEN 'envelope field source is missing'
            WHEN source_type <> 'VARCHAR' THEN 'envelope field source must be a string, got ' || json_kind(source_type)
            WHEN event_type_type IS NULL THEN 'envelope field event_type is missing'
            WHEN event_type_type <> 'VARCHAR' THEN 'envelope field event_type must be a string, got ' || json_kind(event_type_type)
            WHEN event_type = '' THEN 'envelope field event_type is empty'
            WHEN delivery_id_type IS NULL THEN 'envelope field delivery_id is missing'
            WHEN delivery_id_type <> 'VARCHAR' THEN 'envelope field delivery_id must be a string, got ' || json_kind(delivery_id_type)
            WHEN delivery_id = '' THEN 'envelope field delivery_id is empty'
            WHEN length(delivery_id) > $max_delivery_id_length THEN 'envelope field delivery_id is longer than ' || $max_delivery_id_length || ' characters'
            WHEN received_at_type IS NULL THEN 'envelope field received_at is missing'
            WHEN received_at_type <> 'VARCHAR' THEN 'envelope field received_at must be an ISO-8601 string with a zone, got ' || json_kind(received_at_type)
            WHEN received_at_value IS NULL
                THEN 'envelope field received_at is not an ISO-8601 timestamp with a zone: ' || left(received_at_text, 64)
            WHEN payload_type IS NULL THEN 'envelope field payload is missing'
            WHEN payload_type <> 'OBJECT' THEN 'envelope field payload must be a JSON object, got ' || json_kind(payload_type)
            WHEN NOT list_contains($known_sources, source) THEN 'unknown source ' || left(source, 64) || '; expected one of ' || array_to_string($known_sources, ', ')
        END AS envelope_reason,
        CASE
            WHEN reject_code IS NOT NULL THEN reject_code
            WHEN NOT is_json THEN 'invalid_json'
            WHEN source_type = 'VARCHAR' AND event_type_type = 'VARCHAR' AND delivery_id_type = 'VARCHAR'
                AND received_at_type = 'VARCHAR' AND payload_type = 'OBJECT'
                AND NOT list_contains($known_sources, source) THEN 'unknown_source'
            ELSE 'invalid_envelope'
        END AS candidate_code
    FROM fields
),
checked AS (
    SELECT
        * EXCLUDE (envelope_reason, candidate_code),
        CASE
            WHEN envelope_reason IS NOT NULL THEN envelope_reason
            WHEN received_at_value < $received_at_earliest OR received_at_value > $received_at_latest
                THEN 'envelope field received_at is outside the plausible range '
                    || strftime($received_at_earliest::TIMESTAMPTZ, '%Y-%m-%dT%H:%M:%SZ') || ' to '
                    || strftime($received_at_latest::TIMESTAMPTZ, '%Y-%m-%dT%H:%M:%SZ') || ' (now plus the allowed lead): '
                    || left(received_at_text, 64)
        END AS reason,
        CASE WHEN envelope_reason IS NOT NULL THEN candidate_code ELSE 'implausible_received_at' END AS candidate_code
    FROM envelope_checked
),
valid_ranked AS (
    SELECT
        landing_file,
        line_number,
        row_number() OVER (PARTITION BY source, delivery_id ORDER BY file_order, line_number) AS delivery_rank,
        first(landing_file) OVER (PARTITION BY source, delivery_id ORDER BY file_order, line_number) AS first_in_batch
    FROM checked
    WHERE reason IS NULL
)
SELECT
    checked.landing_file,
    checked.line_number,
    checked.file_order,
    CASE
        WHEN checked.reason IS NOT NULL THEN 'quarantined'
        WHEN ranked.delivery_rank > 1 OR landed.delivery_id IS NOT NULL THEN 'duplicate'
        ELSE 'landed'
    END AS outcome,
    CASE WHEN checked.reason IS NOT NULL THEN checked.candidate_code END AS reason_code,
    checked.reason,
    CASE WHEN checked.reason IS NOT NULL THEN left(checked.record_text, $raw_limit) END AS raw,
    checked.delivery_id,
    checked.source,
    checked.event_type,
    CASE WHEN checked.reason IS NULL THEN checked.received_at_value END AS received_at,
    CASE WHEN checked.reason IS NULL THEN checked.payload_document END AS payload,
    list_contains($known_event_types, checked.source || ':' || checked.event_type) AS known_event_type,
    coalesce(landed.landing_file, CASE WHEN ranked.delivery_rank > 1 THEN ranked.first_in_batch END) AS first_landing_file
FROM checked
LEFT JOIN valid_ranked AS ranked
    ON ranked.landing_file = checked.landing_file
    AND ranked.line_number IS NOT DISTINCT FROM checked.line_number
LEFT JOIN bronze.raw_events AS landed
    ON checked.reason IS NULL AND landed.source = checked.source AND landed.delivery_id = checked.delivery_id;
