-- Every physical line of the batch's .ndjson/.jsonl files, streamed by DuckDB's parallel CSV
-- reader used as a line reader: one VARCHAR column, no quoting, and a 4-byte control-character
-- delimiter that valid JSON cannot contain (a line that has it is invalid JSON anyway). Lines
-- the reader cannot take (invalid UTF-8, over max_line_size) go to the rejects tables with their
-- physical line numbers; WITH ORDINALITY numbers the accepted lines in file order.
CREATE OR REPLACE TEMP TABLE ndjson_lines AS
SELECT lines.filename AS path, lines.ordinality, lines.line
FROM read_csv(
    $paths,
    columns = {'line': 'VARCHAR'},
    header = false,
    auto_detect = false,
    delim = $delimiter,
    quote = '',
    escape = '',
    strict_mode = true,
    max_line_size = $max_line_bytes,
    filename = true,
    store_rejects = true,
    rejects_table = 'ingest_reject_errors',
    rejects_scan = 'ingest_reject_scans'
) WITH ORDINALITY AS lines;
