-- Record that every commit reachable from $head_sha on ($source, $repo, $branch) has been extracted.
INSERT INTO extract.branch_heads (source, repo, branch, head_sha, updated_at)
VALUES ($source, $repo, $branch, $head_sha, $updated_at)
ON CONFLICT (source, repo, branch) DO UPDATE SET head_sha = excluded.head_sha, updated_at = excluded.updated_at;
