"""``ovn-inject gateway``: the token-secured HTTP API through which services program their hooks."""
