"""One home for the demo (``laoke demo``) and the simulators (fake WeChat API, callback client,
chat page).

Development and demonstration tooling: production code never imports it.
"""
