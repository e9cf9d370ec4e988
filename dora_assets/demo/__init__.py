"""The demo history: ``dora-assets demo`` fills the landing folder with a deterministic, realistic
history of GitHub webhook deliveries (pushes, deployments, deployment statuses and issues) for a
few ``acme/...`` repositories, built from real GitHub webhook examples (``templates/github``).
With ``--sources``, the same history is partly told by GitLab, Jenkins, PagerDuty and Jira,
built from their real examples in ``templates/<source>``.

The modules depend one way: ``model`` (the simulated organisation and what happens to it, plain
data) <- ``github`` (the history told as GitHub deliveries, as it happens) and ``senders`` (the
same facts retold by the other senders), both on ``payloads`` (reading the examples) <-
``generator`` (``generate_demo``: plays, tells and writes the landing files; the CLI's entry
points).
"""
