-- The cursors of one repo: resource -> (extracted_to, etag, head_sha).
SELECT resource, extracted_to, etag, head_sha FROM extract.cursors WHERE source = $source AND repo = $repo;
