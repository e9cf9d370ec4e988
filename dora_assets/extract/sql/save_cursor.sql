-- Record that ($source, $repo, $resource) has been extracted up to $extracted_to (never moving
-- the cursor back: a backfill of an older window leaves it where it is) with its listing's $etag.
INSERT INTO extract.cursors (source, repo, resource, extracted_to, etag, updated_at)
VALUES ($source, $repo, $resource, $extracted_to, $etag, $updated_at)
ON CONFLICT (source, repo, resource) DO UPDATE SET
    extracted_to = greatest(extract.cursors.extracted_to, excluded.extracted_to),
    etag = coalesce(excluded.etag, extract.cursors.etag),
    updated_at = excluded.updated_at;
