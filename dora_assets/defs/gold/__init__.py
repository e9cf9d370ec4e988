"""Gold: the DORA metrics (gold.dora_monthly) by SQL over silver."""
