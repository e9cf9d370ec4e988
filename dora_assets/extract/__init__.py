"""Extraction: history pulled from source APIs (the GitHub REST API through
``github_client.GitHubClient``) and landed as envelope files, like webhook deliveries."""
