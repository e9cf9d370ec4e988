-- The cursors of one repo: resource -> (extracted_to, etag).
SELECT resource, extracted_to, etag FROM extract.cursors WHERE source = $source AND repo = $repo;
