"""The demo history: ``dora-assets demo`` fills the landing folder with a deterministic, realistic
history of GitHub webhook deliveries (pushes, deployments, deployment statuses and issues) for a
few ``acme/...`` repositories, built from real GitHub webhook examples (``templates/github``).
With ``--sources``, the same history is partly told by GitLab, Jenkins, PagerDuty and Jira
(``senders.py``, built from their real examples in ``templates/<source>``).
"""
