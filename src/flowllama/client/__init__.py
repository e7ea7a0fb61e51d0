"""The ``flowllama`` commands that talk to a running FlowLlama over its REST API (login,
deployments, keys, usage, chat, admin), like ``dstack`` or ``sky`` do for theirs."""
