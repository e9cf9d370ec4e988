-- Every physical line of the batch's .ndjson/.jsonl files, streamed by DuckDB's parallel CSV
-- reader used as a line reader straight into staged_records: one VARCHAR column, no quoting, and
-- a 4-byte control-character delimiter that valid JSON cannot contain (a line that has it is
-- invalid JSON anyway). Lines the reader cannot take (invalid UTF-8, over max_line_size) go to
-- the rejects tables with their physical line numbers. WITH ORDINALITY numbers the accepted
-- lines in file order; stage_ndjson_records.sql turns these ordinals into line numbers and drops
-- the blank lines, marked here as they stream by (the reader gives an empty line as NULL; a line
-- that starts with '{' is not blank, and trim, which copies a line, runs for the others only:
-- each WHEN of a CASE sees only the rows the previous ones did not take).
INSERT INTO staged_records
SELECT
    files.landing_file,
    lines.ordinality,
    lines.line,
    CASE WHEN starts_with(lines.line, '{') THEN NULL WHEN trim(lines.line) <> '' THEN NULL ELSE 'blank_line' END,
    NULL
FROM read_csv(
    $paths,
    columns = {'line': 'VARCHAR'},
    header = FALSE,
    auto_detect = FALSE,
    delim = $delimiter,
    quote = '',
    escape = '',
    strict_mode = TRUE,
    max_line_size = $max_line_bytes,
    filename = TRUE,
    store_rejects = TRUE,
    rejects_table = 'ingest_reject_errors',
    rejects_scan = 'ingest_reject_scans'
) WITH ORDINALITY AS lines
JOIN batch_files AS files ON files.path = lines.filename;
