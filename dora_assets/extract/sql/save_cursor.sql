-- Record that ($source, $repo, $resource) has been extracted up to $extracted_to (never moving
-- the cursor back: a backfill of an older window leaves it where it is) with its listing's $etag
-- and, for commits by a run that reached the present, the branch's $head_sha.
INSERT INTO extract.cursors (source, repo, resource, extracted_to, etag, updated_at, head_sha)
VALUES ($source, $repo, $resource, $extracted_to, $etag, $updated_at, $head_sha)
ON CONFLICT (source, repo, resource) DO UPDATE SET
    extracted_to = greatest(extract.cursors.extracted_to, excluded.extracted_to),
    etag = coalesce(excluded.etag, extract.cursors.etag),
    updated_at = excluded.updated_at,
    head_sha = coalesce(excluded.head_sha, extract.cursors.head_sha);
