-- The branch head recorded by the last extraction of ($source, $repo, $branch) that reached the present.
SELECT head_sha FROM extract.branch_heads WHERE source = $source AND repo = $repo AND branch = $branch;
